"""What every stage shares: record accounting, the shard sink and the cleaning-step shell."""
