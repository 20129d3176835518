"""The Chomsky-hierarchy tasks of Delétang et al. 2023 as Ruoss et al. 2023 ran them: four
regular, four deterministic context-free and seven context-sensitive tasks, on an input string
followed by an output tape (:mod:`.tape`)."""
