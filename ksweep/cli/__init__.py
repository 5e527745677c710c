"""The commands: argv (or Make variables) → the stages, with one declaration of every option."""
