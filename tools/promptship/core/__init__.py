"""Pure values and rules that every other package shares.

Owns: the error hierarchy (:mod:`.errors`), shared values such as findings and
snapshots (:mod:`.model`), overlay merging (:mod:`.overlay`), resolved views
(:mod:`.views`), the template sandbox (:mod:`.templates`), rendering
(:mod:`.render`), media inputs (:mod:`.media`), each model API's request body
(:mod:`.targets`), variant assignment (:mod:`.variants`) and CODEOWNERS
semantics (:mod:`.codeowners`).

May import: nothing else of promptship. Pure: bytes and values in, values
out; no file, network, process or clock access.
"""
