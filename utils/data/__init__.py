"""The course's datasets: download and verification (``utils.data.download``)."""

from utils.data.download import MANIFEST, DownloadError, fetch

__all__ = ["MANIFEST", "DownloadError", "fetch"]
