"""The agent core: the turn loop, prompt assembly and conversation history."""
