"""Where installed files live: in the source checkout, or in a ROS install's share folder."""

from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parents[3]


def source_or_share(source_relative: str, package: str, share_relative: str) -> Path:
    """`SOURCE_ROOT/source_relative` when running from a checkout (pip path, symlink
    install), else `share/<package>/share_relative` found through the ament index."""
    source = SOURCE_ROOT / source_relative
    if source.exists():
        return source
    from ament_index_python.packages import get_package_share_directory

    return Path(get_package_share_directory(package)) / share_relative
