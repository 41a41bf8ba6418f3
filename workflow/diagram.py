"""The choreography as a Mermaid flowchart, drawn from the model (the README embeds it, and a
test keeps the two equal): `python -m workflow.diagram`."""

from __future__ import annotations

from workflow.model import CHOREOGRAPHY, Bus, Choreography, ToNotification


def _bus_node(bus: Bus) -> str:
    return f"{bus.value}Bus"


def mermaid(choreography: Choreography = CHOREOGRAPHY) -> str:
    lines = ["flowchart LR"]
    for api in choreography.http_apis:
        lines.append(f'  client(["client"]) -- "{api.entry_route}" --> {api.id}')
    for subdomain in dict.fromkeys(function.subdomain for function in choreography.functions):
        lines.append(f'  subgraph {subdomain.value}["{subdomain.value.title()}"]')
        for api in choreography.http_apis:
            if choreography.function(api.function).subdomain == subdomain:
                lines.append(f'    {api.id}["HTTP API"] --> {api.function}')
        for queue in choreography.queues:
            if queue.subdomain == subdomain:
                name = queue.name
                lines.append(f'    {queue.id}Queue[["{name}"]] --> {queue.consumer}')
        for function in choreography.functions:
            if function.subdomain == subdomain:
                lines.append(f'    {function.id}("{function.id} λ")')
        lines.append("  end")
    for bus in Bus:
        lines.append(f'  {_bus_node(bus)}{{{{"{bus.value} bus"}}}}')
    for function in choreography.functions:
        if function.publishes_to is not None:
            lines.append(f"  {function.id} -.-> {_bus_node(function.publishes_to)}")
        for queue in choreography.outbox_queues(function.id):
            lines.append(f'  {function.id} -- "check later" --> {queue.id}Queue')
    for route in choreography.routes:
        target = route.target
        to = {"queue": f"{target.ref}Queue", "bus": f"{target.ref}Bus"}.get(target.kind, target.ref)
        lines.append(f'  {_bus_node(route.bus)} -- "{route.event}" --> {to}')
    for destination in dict.fromkeys(r.target.destination for r in choreography.routes
                                     if isinstance(r.target, ToNotification)):
        lines.append(f'  {destination}(["notification endpoint"])')
    lines.append('  observability[["observability queue + log group"]]')
    for bus in choreography.observed_buses:
        lines.append(f'  {_bus_node(bus)} -. "every event" .-> observability')
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(mermaid(), end="")
