// Module Service: see README.md (Architecture). Its code lands here.
