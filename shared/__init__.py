"""Code the sunsky-dropship services share: settings, database, SUNSKY client, messaging."""
