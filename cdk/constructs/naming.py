"""Readable logical ids for the resources the model names."""

from __future__ import annotations

from aws_cdk import CfnElement
from constructs import IConstruct


def logical_id_set(construct: IConstruct, logical_id: str) -> None:
    """Name `construct`'s CloudFormation resource after the model (`WarehouseQueue`,
    `OrderPlacedToWarehouse`) rather than after its construct path plus a hash, so that
    whoever reads the template (people, the local runtime, the dashboard) finds it by the
    name the model gives it, and moving a construct in the tree does not replace it."""
    resource = construct.node.default_child
    if resource is None:
        # Some L2s (events.Connection, events.ApiDestination) name their resource after
        # themselves rather than `Resource`, so it is not their default child.
        elements = [child for child in construct.node.children if isinstance(child, CfnElement)]
        resource = elements[0] if len(elements) == 1 else None
    if not isinstance(resource, CfnElement):
        raise TypeError(f"{construct.node.path} has no single CloudFormation resource to name")
    resource.override_logical_id(logical_id)
