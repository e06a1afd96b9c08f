"""SUNSKY Open API: signing, client, errors, typed results (see ../shared/reference)."""
