"""Model factory: strings / objects / factories -> LangChain chat models and dspy.LM;
model_name."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import dspy
import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_litellm import ChatLiteLLM
from langchain_openai import ChatOpenAI

from agentopt_adapters.errors import ModelError
from agentopt_adapters.models import chat_model, dspy_lm, model_name


def test_sim_string_gives_a_working_chat_model_with_kwargs_kept() -> None:
    llm = chat_model("sim/small", temperature=0.2, max_tokens=64, seed=7)
    assert isinstance(llm, ChatLiteLLM) and llm.temperature == 0.2 and llm.max_tokens == 64
    assert llm.model_kwargs["seed"] == 7
    msg = llm.invoke("What is 20 + 22?")
    assert "42" in msg.content and msg.usage_metadata["input_tokens"] > 0
    assert model_name(llm) == "sim/small"


def test_provider_string_builds_without_calling() -> None:
    llm = chat_model("openai/gpt-4o-mini", api_base="http://127.0.0.1:9/v1", temperature=0)
    assert llm.api_base == "http://127.0.0.1:9/v1" and model_name(llm) == "openai/gpt-4o-mini"


def test_objects_and_factories_pass_through() -> None:
    fake = GenericFakeChatModel(messages=iter([AIMessage("hi")]))
    assert chat_model(fake) is fake
    native = ChatOpenAI(model="gpt-4o-mini", api_key="x")
    assert chat_model(lambda: native) is native and model_name(native) == "gpt-4o-mini"
    with pytest.raises(ModelError, match=r"slot 'plan': model factory .* returned str"):
        chat_model(lambda: "nope", slot="plan")


def test_model_name_sees_through_bindings_and_dspy() -> None:
    from langchain_core.tools import tool

    @tool
    def noop(x: str) -> str:
        """Nothing."""
        return x

    assert model_name(chat_model("sim/mini").bind_tools([noop])) == "sim/mini"
    assert model_name(dspy_lm("sim/nano")) == "sim/nano"
    assert model_name(object()) is None


def test_dspy_lm_defaults_to_no_cache_and_works() -> None:
    lm = dspy_lm("sim/medium", temperature=0.0)
    assert isinstance(lm, dspy.LM) and lm.cache is False
    out = lm("What is 5 * 5?")
    assert "25" in out[0]
    assert lm.history[-1]["usage"]["completion_tokens"] > 0
    assert lm.history[-1]["cost"] > 0
    existing = dspy.LM("sim/xl", cache=False)
    assert dspy_lm(existing) is existing


def test_bad_model_strings_name_the_slot_and_the_fix() -> None:
    with pytest.raises(ModelError,
                       match=r"slot 'solve': unknown model 'sim/huge'; provider 'sim' serves "
                             r"\['sim/frontier'"):
        chat_model("sim/huge", slot="solve")
    with pytest.raises(ModelError,
                       match=r"slot 'plan': model 'nosuchprovider/x' is not usable: .*LLM "
                             r"Provider NOT provided"):
        chat_model("nosuchprovider/x", slot="plan")
    with pytest.raises(ModelError, match="unknown model 'sim/huge'; provider 'sim' serves"):
        dspy_lm("sim/huge")
    with pytest.raises(ModelError, match="non-empty model string"):
        chat_model("")
    assert isinstance(chat_model("sim/nano"), BaseChatModel)
