-- wrk -s bench/healthz.lua: GET /healthz, no token, the same request on
-- every connection; coolingd and nginx (bench/lib/http.sh) get the same
-- bytes. wrk builds the request once, so the load generator costs little.
wrk.method = "GET"
wrk.path = "/healthz"
