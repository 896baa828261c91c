"""The sandboxes: faithful stand-ins for each provider's API, for development, demos and tests.

One family: `kit` is what every sandbox shares (clock, scheduler, faults and the pipeline's fault
phases, rate windows, request log, control routes, config knobs, server runner); `story` and
`syllaby` are each one API's behaviour on that kit, with their parallel pieces named alike
(`<Provider>Endpoint`, `<Provider>Call`, `Behaviour`, `<Provider>StorySandboxConfig`, `...State`,
`...Server`, `...Error`).
"""
