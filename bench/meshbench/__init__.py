"""Side-by-side proxy benchmark: mesh-proxy against Envoy, HAProxy and nginx (issue 6)."""
