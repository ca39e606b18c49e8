// CLI tests land here.
