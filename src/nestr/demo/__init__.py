"""`nestr demo`: a small, realistic sample product and a guided tour over it."""
