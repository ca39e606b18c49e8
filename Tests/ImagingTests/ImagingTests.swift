// Tests for Imaging land here.
