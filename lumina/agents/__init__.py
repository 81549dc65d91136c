"""Thin Faust agents over the enrichment pipeline and the store."""
