"""EC2: the instance-type offerings of every region read when they are asked for, not when
moto is imported."""

from __future__ import annotations

import os
from typing import Any

from moto.ec2.models import instance_types
from moto.utilities.utils import load_resource

_OFFERINGS = "resources/instance_type_offerings"


class _RegionsOnDemand(dict[str, Any]):
    """One location type's offerings by region ("us-east-1": [...]), each region's file read
    the first time it is looked up: what moto's EC2 does with `[region]`, `.get(region)` and
    iteration."""

    def __init__(self, location_type: str) -> None:
        super().__init__()
        self.location_type = location_type
        folder = os.path.join(os.path.dirname(os.path.dirname(instance_types.__file__)),
                              _OFFERINGS, location_type)
        self.files = {name.split(".")[0]: name for name in sorted(os.listdir(folder))}

    def _load(self, region: str) -> None:
        if region in self.files and not super().__contains__(region):
            offerings = load_resource(os.path.join(
                "ec2", _OFFERINGS, self.location_type, self.files[region]))
            for offering in offerings:
                offering["LocationType"] = self.location_type
            super().__setitem__(region, offerings)

    def __getitem__(self, region: str) -> Any:
        self._load(region)
        return super().__getitem__(region)

    def get(self, region: str, default: Any = None) -> Any:
        self._load(region)
        return super().get(region, default)

    def __contains__(self, region: object) -> bool:
        return region in self.files

    def __iter__(self) -> Any:
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)

    def keys(self) -> Any:
        return self.files.keys()

    def items(self) -> Any:
        return [(region, self[region]) for region in self.files]

    def values(self) -> Any:
        return [self[region] for region in self.files]


def instance_type_offerings_on_demand() -> None:
    """moto's EC2 reads which instance types every region and zone offers when it is imported
    — and CloudFormation's support imports it — holding ~40 MiB of the embedded AWS's memory
    for a service this system never calls. The same dictionary (other modules hold it) now
    reads a region's offerings the first time they are asked for."""
    offerings: Any = instance_types.INSTANCE_TYPE_OFFERINGS
    for location_type in list(offerings):
        offerings[location_type] = _RegionsOnDemand(location_type)
