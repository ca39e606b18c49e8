// Module Imaging: see README.md (Architecture). Its code lands here.
