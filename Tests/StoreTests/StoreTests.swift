// Tests for Store land here.
