"""Typed models shared by workflows, activities, the API and the CLI."""
