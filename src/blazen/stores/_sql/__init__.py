"""SQL text shipped as package data: ``<backend>/NNNN_name.sql`` migrations, applied in order."""
