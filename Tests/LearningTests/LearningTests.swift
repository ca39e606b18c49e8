// Tests for Learning land here.
