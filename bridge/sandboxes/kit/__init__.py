"""What every provider's sandbox shares, so each sandbox is only its API's behaviour.

`clock` (sandbox time, fast or manual), `scheduler` (lazily applied transitions), `faults` (fault
rules and their seeded matching), `network` (what a hang or a dropped connection looks like to a
client), `exchange` (one request on its way, and its log entry), `pipeline` (the fault phases
around a provider's handling of each request), `ratewindow` (fixed request windows per bucket),
`requestlog` (what the sandbox saw), `control` (the generic `/_sandbox` routes: requests, faults,
clock), `config` (the knobs of all these) and `server` (uvicorn on a port bound before start, in
a thread or in the foreground). Each provider's sandbox composes these with its own world,
envelope, rules and control routes (`bridge.sandboxes.<provider>`).
"""
