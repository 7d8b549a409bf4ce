"""Who may do what: permission groups and memberships (data and collection permissions come later)."""
