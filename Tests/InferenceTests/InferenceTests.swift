// Tests for Inference land here.
