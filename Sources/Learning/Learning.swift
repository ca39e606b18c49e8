// Module Learning: see README.md (Architecture). Its code lands here.
