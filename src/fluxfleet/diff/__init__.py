"""Compare the renders of two revisions cluster by cluster, with Secret values masked."""
