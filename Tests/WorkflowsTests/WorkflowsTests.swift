// Workflows tests land here.
