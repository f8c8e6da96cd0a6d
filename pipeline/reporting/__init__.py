"""What analysts read: CSV and Parquet exports from the catalog, and HTML report pages."""
