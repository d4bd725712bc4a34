"""Citizens' photos: downloaded from the platform, checked and re-encoded (no EXIF), kept in a
media store (a local folder or an S3-compatible bucket), re-uploaded across platforms."""
