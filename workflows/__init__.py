"""Workflows: CaseWorkflow (one per case) and WhistleWorkflow (one per 吹哨, a child of its case)."""
