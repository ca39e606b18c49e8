// Module Search: see README.md (Architecture). Its code lands here.
