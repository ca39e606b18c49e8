// Service tests land here.
