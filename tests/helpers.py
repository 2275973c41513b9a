"""What many tests share (importable as `helpers`: pyproject.toml's pytest pythonpath names tests/)."""
import time


def wait_until(predicate, timeout: float = 120.0, every: float = 0.05, pause=time.sleep) -> bool:
    """Ask predicate() every `every` seconds until it holds (True) or `timeout` seconds have passed (False).
    A browser test passes its page's pause (`pause=browser_pause(page)`), so the page keeps handling events."""
    deadline = time.time() + timeout
    while True:
        if predicate():
            return True
        if time.time() >= deadline:
            return False
        pause(every)


def browser_pause(page):
    """A pause for wait_until that lets a Playwright page run meanwhile (its wait_for_timeout, in ms)."""
    return lambda seconds: page.wait_for_timeout(seconds * 1000)
