// Module Inference: see README.md (Architecture). Its code lands here.
