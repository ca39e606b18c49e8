// Tests for Extraction land here.
