// Module Store: see README.md (Architecture). Its code lands here.
