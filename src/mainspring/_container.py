"""The container: registration, validation, resolution and overrides."""

from __future__ import annotations

import contextvars
import inspect
import types

# The C locks that threading wraps, without the cost of importing its
# Python layer on 'import mainspring' (see _lazy).
from _thread import RLock, allocate_lock
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

from mainspring._compile import (
    Entry,
    compile_maker,
    first_async,
    singleton_source,
    singletons_read,
    source,
)
from mainspring._generators import finish_generator
from mainspring._graph import (
    Arg,
    Graph,
    Node,
    build_graph,
    path_to,
    postorder,
)
from mainspring._keys import check_key, describe, describe_path
from mainspring._lazy import log
from mainspring._registry import (
    INHERIT,
    Declaration,
    Registry,
    Scope,
    Timeout,
    _check_timeout,
    declaration_of,
    default_registry,
)
from mainspring._signature import Kind, kind_of, made_key, params_of
from mainspring.exceptions import (
    CircularDependencyError,
    DuplicateServiceError,
    InvalidProviderError,
    MainspringError,
    ShutdownError,
    StateError,
    UnknownServiceError,
)

if TYPE_CHECKING:
    import concurrent.futures

    from typing_extensions import TypeForm

    from mainspring._lifecycle import Lifecycle
else:
    # Evaluated only if someone reads the annotations: see _lazy.
    from mainspring._lazy import TypeForm

_T = TypeVar("_T")

# The keys being built by the current thread or task, to tell a provider
# that asks for itself (a cycle the annotations did not show) from a wait.
_building: contextvars.ContextVar[tuple[object, ...]] = contextvars.ContextVar(
    "mainspring_building", default=()
)


class Container:
    """Builds, shares, starts and stops the services of one application.

    A container takes its providers from `default_registry` when given
    none, or from the registries, classes and factories passed to it, in
    that order. The graph is validated on first use: the first `get`,
    `aget`, `order`, `start`, `run`, `statuses` or ``with``.

    Args:
        *providers: Registries, classes and factory functions. A class or
            function decorated with `service` keeps its declared options.
        overrides: Replacements for the container's whole life, as in
            `override`: ``{Database: FakeDatabase()}``.
        start_timeout: Seconds each ``start()`` may take, ``None`` for no
            limit. A service's own ``@service(start_timeout=...)`` wins.
        stop_timeout: Seconds each service's stop steps may take together.

    Raises:
        InvalidProviderError: When a provider is neither a class nor a
            function.
        ValueError: When a timeout is not a positive number or ``None``.
    """

    def __init__(
        self,
        *providers: Registry | type | Any,
        overrides: Mapping[Any, object] | None = None,
        start_timeout: float | None = 15.0,
        stop_timeout: float | None = 15.0,
    ) -> None:
        # Named by class: the instance cannot describe itself before it is
        # fully initialised.
        _check_timeout(type(self), "start_timeout", start_timeout)
        _check_timeout(type(self), "stop_timeout", stop_timeout)
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._lock = allocate_lock()
        self._declarations: list[Declaration] = []
        for provider in providers or (default_registry,):
            if isinstance(provider, Registry):
                self._declarations.extend(provider)
            else:
                kind_of(provider)
                self._declarations.append(declaration_of(provider))
        self._overrides: list[tuple[object, Declaration]] = [
            (check_key(key), _replacement(key, value))
            for key, value in (overrides or {}).items()
        ]
        self._is_used = False
        self._graph: Graph | None = None
        self._makers: dict[object, Callable[[], Any]] = {}
        self._amakers: dict[object, Callable[[], Any]] = {}
        self._cache: dict[Any, Any] = {}
        # The hot path: generated functions that make the first transients
        # asked for inline, return a built singleton from the cache, and
        # send anything else to _missing (see _compile.Entry).
        self._get = Entry(
            self._cache, self._missing, self._missing, is_async=False
        )
        self._aget = Entry(
            self._cache, self._amissing, self._abuild_key, is_async=True
        )
        if type(self).get is Container.get:
            self.__dict__["get"] = self._get.function
        if type(self).aget is Container.aget:
            self.__dict__["aget"] = self._aget.function
        self._locks: dict[object, RLock] = {}
        self._pending: dict[object, concurrent.futures.Future[None]] = {}
        self._record_lock = allocate_lock()
        self.built: list[object] = []
        self.teardowns: dict[object, Any] = {}
        self.deferred_teardowns: list[tuple[object, Any]] = []
        # Made on first use: it brings in asyncio, which costs more to
        # import than the rest of mainspring together.
        self._lifecycle: Lifecycle | None = None

    def __repr__(self) -> str:
        built = sum(
            1
            for key in self._cache
            if not isinstance(key, type) or not issubclass(key, Container)
        )
        return (
            f"<Container: {_count(len(self._declarations), 'provider')}, "
            f"{built} built, "
            f"{self._phase()}>"
        )

    # Registration

    def register(
        self,
        provider: Any,
        provides: object | None = None,
        scope: Scope | None = None,
        *,
        start_timeout: Timeout = INHERIT,
        stop_timeout: Timeout = INHERIT,
    ) -> None:
        """Add a class or factory function as a provider.

        Options left out keep what `service` declared on the object, if
        anything.

        Args:
            provider: A class or factory function.
            provides: The key to register under; see `service`.
            scope: ``"singleton"`` or ``"transient"``.
            start_timeout: See `service`.
            stop_timeout: See `service`.

        Raises:
            StateError: When the container has already been used.
            InvalidProviderError: When ``provider`` is neither a class nor a
                function.
        """
        kind_of(provider)
        declared = declaration_of(provider)
        declaration = Declaration(
            provider,
            provides if provides is not None else declared.provides,
            scope if scope is not None else declared.scope,
            declared.start_timeout
            if start_timeout is INHERIT
            else start_timeout,
            declared.stop_timeout if stop_timeout is INHERIT else stop_timeout,
        )
        self._add(declaration)

    def register_instance(
        self, instance: object, provides: object | None = None
    ) -> None:
        """Add a ready object as the singleton for its type (or ``provides``).

        Like any singleton, it is started, checked and stopped with the
        others if it has the hooks.

        Raises:
            StateError: When the container has already been used.
            InvalidProviderError: When ``provides`` is a class that
                ``instance`` is not an instance of.
        """
        declaration = Declaration(instance, provides, instance=True)
        if provides is not None:
            _check_instance_provides(instance, check_key(provides))
        self._add(declaration)

    def _add(self, declaration: Declaration) -> None:
        with self._lock:
            if self._is_used:
                message = (
                    f"cannot register {describe(declaration.provider)}: the "
                    "container is already in use; register every provider "
                    "before the first get(), order, start() or with"
                )
                raise StateError(message)
            self._declarations.append(declaration)
        if log.is_debug():
            log.debug("registered %s", describe(declaration.provider))

    # Validation

    @property
    def order(self) -> list[Any]:
        """The start order: every singleton, dependencies first.

        Among the services whose dependencies are all placed, the one
        registered first comes next, so the order is the registration order
        whenever that already respects every dependency.
        """
        return list(self.graph().order)

    def graph(self, requested: object | None = None) -> Graph:
        """The validated graph, validating on the first call."""
        graph = self._graph
        if graph is not None:
            return graph
        with self._lock:
            self._is_used = True
            if self._graph is None:
                self._install(self._validated(requested))
            return self._graph  # type: ignore[return-value]

    def _install(self, graph: Graph) -> None:
        # Everything a reader of the graph needs comes first: other threads
        # take the lock-free path as soon as self._graph is set.
        for key, node in graph.nodes.items():
            if node.is_singleton:
                self._locks.setdefault(key, RLock())
        self._makers.clear()
        self._amakers.clear()
        self._get.reset(graph)
        self._aget.reset(graph)
        self._graph = graph
        if log.is_debug():
            log.debug("start order: %s", describe_path(graph.order))

    def _validated(self, requested: object | None) -> Graph:
        """Read every provider and build the graph, or say what is wrong.

        ``requested`` is the key whose use triggered validation; paths in
        error messages start from it when they can.
        """
        try:
            nodes = self._nodes()
        except InvalidProviderError as error:
            # Raised while reading one provider, before the graph that
            # shows who needs it exists: place it in the graph now.
            path = self._path_to_provider(error.provider, requested)
            if len(path) < 2:  # noqa: PLR2004 - a path needs two keys
                raise
            raise InvalidProviderError(
                error.provider, error.reason, error.hint, path
            ) from error.__cause__
        return build_graph(nodes, requested)

    def _path_to_provider(
        self, provider: object, requested: object | None
    ) -> list[object]:
        """A dependency path to the key of ``provider``, or ``[]``."""
        declarations = [
            *self._declarations,
            *(declaration for _, declaration in self._overrides),
        ]
        readable: dict[object, Node] = {}
        bad_key = None
        for index, declaration in enumerate(declarations):
            try:
                node = _node(declaration, index, check=False)
            except (MainspringError, TypeError):
                if declaration.provider is provider and bad_key is None:
                    bad_key = _key_if_known(declaration)
                continue
            readable.setdefault(node.key, node)
        if bad_key is None or bad_key == requested:
            return []
        readable.pop(bad_key, None)
        known = {*readable, bad_key}
        deps: dict[object, tuple[object, ...]] = {
            key: tuple(p.key for p in node.params if p.key in known)
            for key, node in readable.items()
        }
        deps[bad_key] = ()
        return path_to(bad_key, readable, deps, requested)

    def _nodes(self) -> dict[object, Node]:
        nodes: dict[object, Node] = {}
        for index, declaration in enumerate(self._declarations):
            node = _node(declaration, index)
            existing = nodes.get(node.key)
            if existing is None:
                nodes[node.key] = node
            elif existing.declaration != declaration:
                raise DuplicateServiceError(
                    node.key, [existing.provider, declaration.provider]
                )
        for key, replacement in self._overrides:
            original = nodes.get(key)
            if original is None:
                raise _unknown(key, nodes, f"override {describe(key)}")
            declaration = Declaration(
                replacement.provider,
                key,
                original.declaration.scope,
                original.declaration.start_timeout,
                original.declaration.stop_timeout,
                instance=replacement.instance,
            )
            # A replacement is a stand-in, a fake more often than not: it
            # need not subclass the key it replaces.
            nodes[key] = _node(declaration, original.index, check=False)
        # A service may ask for the container itself. For a subclass both
        # keys name it; each needs its own index, the sort's tie-breaker.
        for index, key in enumerate(dict.fromkeys((type(self), Container))):
            if key not in nodes:
                declaration = Declaration(
                    self, key, instance=True, managed=False
                )
                nodes[key] = Node(
                    key, declaration, Kind.INSTANCE, -1 - index, ()
                )
        return nodes

    # Resolution

    def get(self, key: TypeForm[_T]) -> _T:
        """Return the instance for ``key``, building it on first use.

        A singleton is built once, with its dependencies, and shared; a
        transient is built anew on every call. Building is not starting.
        Safe to call from many threads at once.

        Args:
            key: A class, an abstract class or a Protocol.

        Returns:
            The instance.

        Raises:
            UnknownServiceError: When nothing provides ``key``.
            TypeError: When ``key`` is not a type.
            StateError: When an async factory is involved (use `aget`, or
                start the container first) or the container has stopped.
            MissingDependencyError: Or another validation error, on first use.
        """
        # Each container has its own generated ``get`` (see __init__), so
        # this body runs only for subclasses that override get and call it
        # through super().
        return self._get.function(key)  # type: ignore[no-any-return]

    async def aget(self, key: TypeForm[_T]) -> _T:
        """Return the instance for ``key``, awaiting async factories.

        The async twin of `get`: concurrent calls from many tasks still
        build a singleton once.
        """
        # Like get: the generated function, here for subclasses only.
        return await self._aget.function(key)  # type: ignore[no-any-return]

    def _lookup(self, key: object) -> tuple[object, Graph, Node]:
        key = check_key(key)
        graph = self._graph or self.graph(key)
        if self._lifecycle is not None and self._phase() == "stopped":
            message = (
                f"cannot get {describe(key)}: the container has stopped; "
                "build a new container"
            )
            raise StateError(message)
        node = graph.nodes.get(key)
        if node is None:
            raise _unknown(key, graph.nodes)
        return key, graph, node

    def _resolve(self, key: object) -> Any:
        key, graph, node = self._lookup(key)
        if node.is_singleton:
            return self.build(key, graph)
        return self._maker(key, graph)()

    async def _aresolve(self, key: object) -> Any:
        key, graph, node = self._lookup(key)
        if node.is_singleton:
            return await self.abuild(key, graph)
        return await self._amaker(key, graph)()

    def build(self, key: object, graph: Graph) -> Any:
        """Build the singleton ``key`` and what it needs, in this thread."""
        cache = self._cache
        for dep in graph.deps[key]:
            if dep not in cache:
                needed = postorder(key, graph.deps, cache)
                break
        else:
            needed = [key]  # the common case when building in order
        _refuse_async(key, needed, graph)
        nodes = graph.nodes
        for dep in needed:
            node = nodes[dep]
            with self._locks[dep]:
                if dep in cache:
                    continue
                token = _enter(dep)
                try:
                    instance, teardown = self._construct(node, graph)
                finally:
                    _building.reset(token)
                self._record(dep, instance, teardown)
        return self._cache[key]

    async def abuild(self, key: object, graph: Graph) -> Any:
        """Build the singleton ``key`` and its needs, awaiting as needed."""
        cache = self._cache
        node = graph.nodes[key]
        if all(dep in cache for dep in graph.deps[key]):
            # The common case when starting, which builds in start order.
            needed = [node]
        else:
            nodes = graph.nodes
            needed = [nodes[k] for k in postorder(key, graph.deps, cache)]
        for dep in needed:
            if dep.is_async:
                await self._abuild_one(dep, graph)
            elif dep.key not in cache:
                self.build(dep.key, graph)
        return cache[key]

    async def _abuild_one(self, node: Node, graph: Graph) -> None:
        import asyncio  # noqa: PLC0415 - kept out of 'import mainspring'
        import concurrent.futures  # noqa: PLC0415 - likewise

        key = node.key
        while key not in self._cache:
            with self._locks[key]:
                if key in self._cache:
                    return
                pending = self._pending.get(key)
                if pending is None:
                    mine: concurrent.futures.Future[None] = (
                        concurrent.futures.Future()
                    )
                    self._pending[key] = mine
            if pending is not None:
                if key in _building.get():
                    _enter(key)  # raises: this task is building it
                await asyncio.wrap_future(pending)
                continue
            token = _enter(key)
            try:
                instance, teardown = await self._aconstruct(node, graph)
                self._record(key, instance, teardown)
            finally:
                _building.reset(token)
                with self._locks[key]:
                    del self._pending[key]
                mine.set_result(None)

    def _record(self, key: object, instance: object, teardown: object) -> None:
        with self._record_lock:
            self.built.append(key)
            if teardown is not None:
                self.teardowns[key] = teardown
            # Published last: the lock-free read in get() must never see an
            # instance whose teardown is not yet on record.
            self._cache[key] = instance

    def _arguments(
        self, args: tuple[Arg, ...]
    ) -> tuple[list[Any], dict[str, Any]]:
        positional: list[Any] = []
        keywords: dict[str, Any] = {}
        cache = self._cache
        for arg in args:
            # A singleton's dependencies are singletons, built before it.
            value = arg.value if arg.key is None else cache[arg.key]
            if arg.positional:
                positional.append(value)
            else:
                keywords[arg.name] = value
        return positional, keywords

    def _construct(self, node: Node, graph: Graph) -> tuple[Any, Any]:
        if node.kind is Kind.INSTANCE:
            return node.provider, None
        keys = graph.keyed.get(node.key)
        if keys is not None:
            cache = self._cache
            made = node.provider(*[cache[key] for key in keys])
        else:
            positional, keywords = self._arguments(graph.args[node.key])
            made = node.provider(*positional, **keywords)
        if node.kind is not Kind.GENERATOR:
            return made, None
        try:
            return next(made), made
        except StopIteration:
            raise _no_yield(node) from None

    async def _aconstruct(self, node: Node, graph: Graph) -> tuple[Any, Any]:
        if not node.kind.is_async:
            return self._construct(node, graph)
        positional, keywords = self._arguments(graph.args[node.key])
        if node.kind is Kind.COROUTINE:
            return await node.provider(*positional, **keywords), None
        made = node.provider(*positional, **keywords)
        try:
            return await made.__anext__(), made
        except StopAsyncIteration:
            raise _no_yield(node) from None

    # Transients: generated code, compiled once per key (see _compile.py).

    def _maker(self, key: object, graph: Graph) -> Callable[[], Any]:
        maker = self._makers.get(key)
        if maker is not None:
            return maker
        # The singletons under a transient count too: refuse before the
        # generated code has built any of them.
        node = first_async(key, graph)
        if node is not None:
            raise _needs_await(key, node)
        # The maker reads its singletons straight from the cache, so they
        # are built first.
        read = singletons_read(key, graph)
        for dep in read:
            if dep not in self._cache:
                self.build(dep, graph)
        maker = compile_maker(
            key, graph, self._cache, self._missing, is_async=False
        )
        with self._lock:
            # Kept only while its graph is in force and what it reads is
            # still there; an override that ended meanwhile evicted it.
            if self._graph is graph and all(d in self._cache for d in read):
                self._makers[key] = maker
                self._get.inline(key, graph)
        return maker

    def _amaker(self, key: object, graph: Graph) -> Callable[[], Any]:
        maker = self._amakers.get(key)
        if maker is not None:
            return maker
        maker = compile_maker(
            key, graph, self._cache, self._abuild_key, is_async=True
        )
        with self._lock:
            if self._graph is graph:
                self._amakers[key] = maker
                self._aget.inline(key, graph)
        return maker

    async def _abuild_key(self, key: object) -> Any:
        return await self.abuild(key, self.graph())

    def _missing(self, key: object) -> Any:
        """A key not in the cache: a transient, or a singleton to build."""
        try:
            maker = self._makers.get(key)
        except TypeError:  # unhashable: check_key says what is wrong
            maker = None
        if maker is not None:
            return maker()
        return self._resolve(key)

    async def _amissing(self, key: object) -> Any:
        """The async twin of `_missing`."""
        try:
            maker = self._amakers.get(key)
        except TypeError:
            maker = None
        if maker is not None:
            return await maker()
        return await self._aresolve(key)

    def explain(self, key: TypeForm[Any]) -> str:
        """Show the code that makes ``key``: what `get` runs for it.

        For a transient, the generated function itself; for a singleton,
        the one call that builds it (once) from its dependencies.

        Raises:
            UnknownServiceError: When nothing provides ``key``.
        """
        found, graph, node = self._lookup(key)
        if node.is_singleton:
            return singleton_source(node, graph)
        is_async = first_async(found, graph) is not None
        return source(found, graph, is_async=is_async)[0]

    # Overrides

    @contextmanager
    def override(
        self, key: TypeForm[_T], replacement: object
    ) -> Iterator[None]:
        """Replace the provider of ``key`` until the ``with`` block ends.

        A class or a function replaces the provider, with the original's
        scope and timeouts; anything else is the instance itself. Dependents
        built inside the block receive the replacement. When the block ends,
        the original provider is back and everything built inside the block
        from the replacement is dropped (generator factories are torn down;
        async ones when the container stops).

        Raises:
            StateError: When ``key`` is already built or started, or when the
                block ends while started services still hold the
                replacement.
            UnknownServiceError: When nothing provides ``key``.
            ShutdownError: When a teardown fails as the block ends.
        """
        entry = (check_key(key), _replacement(key, replacement))
        self._push_override(entry)
        try:
            yield
        finally:
            self._pop_override(entry)

    def _push_override(self, entry: tuple[object, Declaration]) -> None:
        key = entry[0]
        with self._lock:
            if self._graph is None:
                self._overrides.append(entry)
                return
            if self._phase() == "stopped":
                message = (
                    f"cannot override {describe(key)}: the container has "
                    "stopped"
                )
                raise StateError(message)
            if key not in self._graph.nodes:
                raise _unknown(
                    key, self._graph.nodes, f"override {describe(key)}"
                )
            if key in self._cache or key in self._pending:
                message = (
                    f"cannot override {describe(key)}: it is already built; "
                    "override before the first get() or start()"
                )
                raise StateError(message)
            self._overrides.append(entry)
            try:
                self._install(self._validated(key))
            except BaseException:
                self._drop_override(entry)
                raise

    def _pop_override(self, entry: tuple[object, Declaration]) -> None:
        key = entry[0]
        with self._lock:
            graph = self._graph
            if graph is None:
                self._drop_override(entry)
                return
            stale = [
                k for k in graph.dependents_closure(key) if k in self._cache
            ]
            if stale and self._phase() in {"starting", "running"}:
                message = (
                    f"cannot end the override of {describe(key)} while the "
                    "container runs: started services hold the replacement; "
                    "stop the container inside the block"
                )
                raise StateError(message)
            self._drop_override(entry)
            self._install(self._validated(None))
            evicted = self._evict(stale)
        errors = []
        for name, teardown in evicted:
            try:
                finish_generator(teardown, name)
            except Exception as exc:
                exc.add_note(f"while tearing down {describe(name)}")
                errors.append((name, exc))
        if errors:
            raise ShutdownError(
                "teardown failed as an override ended",
                [e for _, e in errors],
                [k for k, _ in errors],
            )

    def _drop_override(self, entry: tuple[object, Declaration]) -> None:
        # By identity: nested blocks may hold replacements that compare
        # equal, and the one that ends must be the one removed.
        for index in range(len(self._overrides) - 1, -1, -1):
            if self._overrides[index] is entry:
                del self._overrides[index]
                return

    def _evict(self, keys: list[object]) -> list[tuple[object, Any]]:
        """Forget ``keys``; return the sync teardowns to run, newest first."""
        if not keys:
            return []
        with self._record_lock:
            doomed = set(keys)
            teardowns = []
            for built in reversed(self.built):
                if built in doomed:
                    del self._cache[built]
                    teardown = self.teardowns.pop(built, None)
                    if teardown is None:
                        continue
                    if hasattr(teardown, "__anext__"):
                        self.deferred_teardowns.append((built, teardown))
                    else:
                        teardowns.append((built, teardown))
            self.built = [k for k in self.built if k not in doomed]
        return teardowns

    def forget_instances(self) -> None:
        """Drop every built instance once the container has stopped."""
        with self._record_lock:
            self._cache.clear()
            # Without their makers, transients too are refused from now on
            # by the check in _lookup, instead of still being made.
            self._makers.clear()
            self._amakers.clear()
            self._get.reset(None)
            self._aget.reset(None)

    def is_built(self, key: object) -> bool:
        """Tell whether the singleton ``key`` has been built."""
        return key in self._cache

    def instance(self, key: object) -> Any:
        """The built singleton ``key``."""
        return self._cache[key]

    # Lifecycle: see _lifecycle.py for what each step does.

    @property
    def lifecycle(self) -> Lifecycle:
        """The lifecycle state, made on first use."""
        lifecycle = self._lifecycle
        if lifecycle is None:
            from mainspring._lifecycle import Lifecycle  # noqa: PLC0415

            with self._lock:
                if self._lifecycle is None:
                    self._lifecycle = Lifecycle(self)
                lifecycle = self._lifecycle
        return lifecycle

    def _phase(self) -> str:
        lifecycle = self._lifecycle
        return "new" if lifecycle is None else lifecycle.phase.value

    def start(self) -> None:
        """Build and start every singleton, on a private event loop.

        The loop runs in a background thread until `stop`, so async hooks
        and ``run()`` bodies keep running while the caller goes on.

        Raises:
            StartupError: When a build or a start fails, times out or is
                interrupted; the started services were stopped.
            StateError: When the container was already started.
        """
        self.lifecycle.start_in_thread()

    def stop(self) -> None:
        """Stop every started service in exact reverse start order.

        Raises:
            ShutdownError: With every stop, teardown or ``run()`` body that
                failed, after all stops were attempted.
        """
        self.lifecycle.stop_in_thread()

    async def astart(self) -> None:
        """Build and start every singleton on the running event loop.

        See `start` for what is raised.
        """
        await self.lifecycle.astart()

    async def astop(self) -> None:
        """Stop every started service, on the running event loop.

        See `stop` for what is raised.
        """
        await self.lifecycle.astop()

    def run(self) -> None:
        """Start, serve until SIGINT or SIGTERM, stop: an application's main.

        Raises:
            StartupError: When starting fails or a signal interrupts it.
            ServiceFailedError: When a ``run()`` body raised; everything was
                stopped first.
            ShutdownError: When stops failed.
        """
        self.lifecycle.run()

    def statuses(self) -> dict[object, BaseException | None]:
        """Check every singleton's health, in start order.

        Returns:
            ``None`` for a running service whose ``status()`` (if any) does
            not raise, the raised exception otherwise, and a
            `NotRunningError` for a service that is not running.

        Raises:
            StateError: Called inside the event loop the services run on
                while some ``status()`` is async; use `astatuses`.
        """
        return self.lifecycle.statuses()

    async def astatuses(self) -> dict[object, BaseException | None]:
        """The async twin of `statuses`."""
        return await self.lifecycle.astatuses()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        await self.astart()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.astop()


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _enter(key: object) -> contextvars.Token[tuple[object, ...]]:
    stack = _building.get()
    if key in stack:
        cycle = [*stack[stack.index(key) :], key]
        raise CircularDependencyError(
            cycle,
            f"{describe(stack[-1])} asked for {describe(key)} while it was "
            "being built",
        )
    return _building.set((*stack, key))


def _node(declaration: Declaration, index: int, *, check: bool = True) -> Node:
    provider = declaration.provider
    if (
        type(provider) is type
        and declaration.provides is None
        and not declaration.instance
        and not provider.__flags__ & inspect.TPFLAGS_IS_ABSTRACT
    ):
        # A plain class under its own name, the common case: what the
        # general path below would find, in fewer steps.
        kind = Kind.CLASS
        return Node(
            provider, declaration, kind, index, params_of(provider, kind)
        )
    if isinstance(provider, Container) and declaration.managed:
        message = "a container cannot be registered as a service"
        hint = (
            "a parameter annotated with Container receives the container "
            "that builds it"
        )
        raise InvalidProviderError(provider, message, hint)
    if declaration.instance:
        kind = Kind.INSTANCE
        key = (
            type(provider)
            if declaration.provides is None
            else check_key(declaration.provides)
        )
        return Node(key, declaration, kind, index, ())
    kind = kind_of(provider)
    if inspect_abstract(provider):
        message = f"{describe(provider)} is abstract and cannot be built"
        hint = "register a concrete class with provides="
        raise InvalidProviderError(provider, message, hint)
    key = declaration.provides
    if key is None:
        key = made_key(provider, kind)
    else:
        key = check_key(key)
        if check:
            _check_provides(provider, kind, key)
    if kind.has_teardown and declaration.scope == "transient":
        message = (
            f"generator factory {describe(provider)} cannot be transient: its "
            "teardown needs a lifecycle, which only singletons have"
        )
        raise InvalidProviderError(provider, message)
    return Node(key, declaration, kind, index, params_of(provider, kind))


def _key_if_known(declaration: Declaration) -> object | None:
    """The key ``declaration`` provides, if it can be told at all."""
    provider = declaration.provider
    try:
        if declaration.provides is not None:
            return check_key(declaration.provides)
        if declaration.instance:
            return type(provider)
        return made_key(provider, kind_of(provider))
    except (MainspringError, TypeError):
        return None


def inspect_abstract(provider: object) -> bool:
    """Tell whether ``provider`` is a class Python refuses to instantiate."""
    if not isinstance(provider, type):
        return False
    if provider.__flags__ & inspect.TPFLAGS_IS_ABSTRACT:
        return True
    # A Protocol has a metaclass of its own: a plain class is never one.
    return type(provider) is not type and getattr(
        provider, "_is_protocol", False
    )


def _check_provides(provider: Any, kind: Kind, key: object) -> None:
    if not isinstance(key, type):
        return
    made = provider if kind is Kind.CLASS else None
    if made is None:
        try:
            made = made_key(provider, kind)
        except InvalidProviderError:
            return
    if not isinstance(made, type):
        return
    reason = _mismatch(made, key, on_instance=False)
    if reason:
        message = (
            f"{describe(provider)} is registered with "
            f"provides={describe(key)} but {describe(made)} {reason}"
        )
        raise InvalidProviderError(provider, message)


def _check_instance_provides(instance: object, key: object) -> None:
    if not isinstance(key, type):
        return
    reason = _mismatch(instance, key, on_instance=True)
    if reason:
        message = (
            f"an instance of {describe(type(instance))} is registered with "
            f"provides={describe(key)} but {reason}"
        )
        raise InvalidProviderError(instance, message)


def _mismatch(made: Any, key: type, *, on_instance: bool) -> str:
    """Why ``made``, a class or an instance, cannot stand for ``key``."""
    if getattr(key, "_is_protocol", False):
        lacking = _lacking_methods(made, key, on_instance=on_instance)
        return (
            f"lacks {lacking}, which {describe(key)} declares"
            if lacking
            else ""
        )
    if on_instance:
        return (
            ""
            if isinstance(made, key)
            else f"is not an instance of {describe(key)}"
        )
    return (
        ""
        if issubclass(made, key)
        else f"is not a subclass of {describe(key)}"
    )


def _lacking_methods(
    made: object, protocol: type, *, on_instance: bool
) -> str:
    """The methods of ``protocol`` that ``made`` does not have, listed.

    A Protocol is structural, so only what is certain is checked: a method
    the Protocol defines must be there. Its data members and properties may
    be set by ``__init__``, so a class is not asked for them; an instance
    is, since it is already built.
    """
    from typing_extensions import get_protocol_members  # noqa: PLC0415

    lacking = []
    for name in sorted(get_protocol_members(protocol)):
        declared = inspect.getattr_static(protocol, name, None)
        is_method = isinstance(
            declared, types.FunctionType | classmethod | staticmethod
        )
        if (on_instance or is_method) and not hasattr(made, name):
            lacking.append(f"{name}()" if is_method else name)
    return " and ".join(
        [", ".join(lacking[:-1]), lacking[-1]] if len(lacking) > 1 else lacking
    )


def _replacement(key: object, value: object) -> Declaration:
    if isinstance(value, type) or _is_function(value):
        kind_of(value)
        return Declaration(value, check_key(key))
    return Declaration(value, check_key(key), instance=True)


def _is_function(value: object) -> bool:
    try:
        kind_of(value)
    except InvalidProviderError:
        return False
    return True


def _unknown(
    key: object, nodes: Mapping[object, Node], action: str = ""
) -> UnknownServiceError:
    import difflib  # noqa: PLC0415 - only errors need it, and it is slow

    names: dict[str, object] = {}
    for known in nodes:
        names.setdefault(describe(known), known)
    close = difflib.get_close_matches(
        describe(key), list(names), n=3, cutoff=0.6
    )
    return UnknownServiceError(key, [names[name] for name in close], action)


def _refuse_async(key: object, needed: list[object], graph: Graph) -> None:
    """Raise before anything is built when ``needed`` holds an async maker."""
    nodes = graph.nodes
    for dep in needed:
        node = nodes[dep]
        if node.is_async:
            raise _needs_await(key, node)


def _needs_await(key: object, node: Node) -> StateError:
    dep = node.key
    via = "" if dep == key else f" (needed by {describe(key)})"
    # Starting builds singletons only; a transient is never built ahead.
    hint = (
        ", or start the container first so that it is already built"
        if node.is_singleton
        else ""
    )
    return StateError(
        f"{describe(dep)}{via} is made by an async factory; use "
        f"'await container.aget({describe(key)})'{hint}"
    )


def _no_yield(node: Node) -> InvalidProviderError:
    return InvalidProviderError(
        node.provider,
        f"generator factory {describe(node.provider)} for "
        f"{describe(node.key)} returned without yielding a value",
    )
