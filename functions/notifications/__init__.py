"""The notification endpoint the stack brings when the deployment names none: not a subdomain
of the choreography, a stand-in for the world outside it."""
