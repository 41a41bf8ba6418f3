"""Orders are newest first by when the dashboard first saw them, not by the time their events
claim. Orders already in the read model take the first sighting of their valid events."""

from django.apps.registry import Apps
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.models import F, OuterRef, Subquery
from django.db.models.functions import Coalesce


def first_seen(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Order = apps.get_model("dashboard", "Order")
    ObservedEvent = apps.get_model("dashboard", "ObservedEvent")
    earliest = (ObservedEvent.objects.filter(order_id=OuterRef("order_id"), valid=True)
                .order_by("observed_at").values("observed_at")[:1])
    Order.objects.update(observed_at=Coalesce(Subquery(earliest), F("placed_at")))


class Migration(migrations.Migration):

    dependencies = [
        ("dashboard", "0002_invalid_events_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="order",
            name="observed_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunPython(first_seen, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="order",
            name="observed_at",
            field=models.DateTimeField(
                help_text="When the dashboard first saw one of its valid events: what newest "
                          "first means, since a publisher can claim any time but cannot choose "
                          "this one."),
        ),
        migrations.RemoveIndex(model_name="order", name="order_recent"),
        migrations.RemoveIndex(model_name="order", name="order_status_recent"),
        migrations.AlterModelOptions(name="order", options={"ordering": ["-observed_at", "-placed_at"]}),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(fields=["-observed_at", "-placed_at"], name="order_seen_recent"),
        ),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(fields=["status", "-observed_at", "-placed_at"],
                               name="order_status_seen_recent"),
        ),
    ]
