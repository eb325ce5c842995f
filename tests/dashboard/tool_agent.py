"""A tool-using agent for the dashboard's browser test, served by `durable-workflows serve
tests/dashboard/tool_agent.py:forecaster`; its model is the one the ``OPENAI_*`` variables name
(the test's local OpenAI-compatible server)."""

from __future__ import annotations

from durable_workflows.agents import Agent, chat_client_from_env, tool


@tool(name="get_weather", description="The current weather in a city.")
def get_weather(city: str) -> str:
    return f"18 degrees and sunny in {city}"


MODEL = chat_client_from_env()
if MODEL is None:
    raise RuntimeError("set OPENAI_API_KEY and OPENAI_BASE_URL (the test's local server)")

forecaster = Agent("Forecaster", "Tell the weather; ask get_weather.", MODEL, tools=[get_weather])
