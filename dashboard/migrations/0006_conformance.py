"""Conformance and stuck orders: each order keeps why its events deviate from the model, and
indexes serve the stuck orders (still placed, by last event type and time) and the orders
that deviate. Orders recorded before keep '' until `manage.py rebuild_history` judges them."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("dashboard", "0005_redrive_job"),
    ]

    operations = [
        migrations.AddField(
            model_name="order",
            name="deviation",
            field=models.CharField(
                blank=True, max_length=300,
                help_text="Why its events did not do what the model says, first seen "
                          "('' while they do)."),
        ),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(fields=["status", "last_event_type", "last_event_at"],
                               name="order_stopped_at"),
        ),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(condition=~models.Q(deviation=""),
                               fields=["-observed_at", "-placed_at"],
                               name="order_deviating_recent"),
        ),
    ]
