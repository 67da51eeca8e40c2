"""Workspaces: who owns what (tenancy), members and their roles, invitations, branded domains."""
