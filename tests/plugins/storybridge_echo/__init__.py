"""Echo: a third storybridge provider that lives outside the core (docs/PROVIDERS.md).

A two-endpoint async API (`POST /things` starts one, `GET /things/{id}` shows it going `pending`
-> `running` -> `ready`), its sandbox on the shared kit, one command (`echo.thing.create`) and a
watch that publishes `{p}.evt.echo.thing.<status>`. It is registered by the checked-in
`storybridge_echo-0.1.dist-info/entry_points.txt` beside this package: putting `tests/plugins` on
sys.path is installing it (importlib.metadata reads dist-info directories there).
"""
