// Module Extraction: see README.md (Architecture). Its code lands here.
