// Tests for Search land here.
