"""Which ImageNet classes each sound class pushes the dream towards.

:data:`DEFAULT_CLASS_GUIDES` maps the ten UrbanSound8K classes to ImageNet
class indices (0-999, torchvision's order); the default preset copies it. With
``dream.guide_weight`` above 0 the renderer raises the network's probability of
the set, so a barking dog dreams dog faces into whatever the image holds.
"""

from __future__ import annotations

from collections.abc import Iterable

from performer.dream.backbones import class_index, imagenet_categories

DEFAULT_CLASS_GUIDES: dict[str, tuple[int, ...]] = {
    # electric fan, radiator, space heater, window screen
    "air_conditioner": (545, 753, 811, 904),
    # sports car, convertible, cab, minivan, jeep, pickup
    "car_horn": (817, 511, 468, 656, 609, 717),
    # swing, teddy, balloon, carousel, soccer ball
    "children_playing": (843, 850, 417, 476, 805),
    # golden retriever, Labrador retriever, German shepherd, pug, Pembroke, Samoyed, beagle, Siberian husky,
    # dalmatian
    "dog_bark": (207, 208, 235, 254, 263, 258, 162, 250, 251),
    # power drill, chain saw
    "drilling": (740, 491),
    # trailer truck, tow truck, garbage truck, school bus, tractor, moving van
    "engine_idling": (867, 864, 569, 779, 866, 675),
    # revolver, rifle, assault rifle, cannon
    "gun_shot": (763, 764, 413, 471),
    # hammer, crane (machine), shovel, plow (ImageNet has no jackhammer)
    "jackhammer": (587, 517, 792, 730),
    # ambulance, police van, fire engine
    "siren": (407, 734, 555),
    # acoustic guitar, electric guitar, accordion, violin, drum, banjo, sax, cornet
    "street_music": (402, 546, 401, 889, 541, 420, 776, 513),
}

DEFAULT_CLASS_COLOURS: dict[str, str] = {
    # One hue each, spread round the colour wheel (the five the look benchmark plays are furthest apart), so the
    # audience sees a class change in the colour before the shapes change; the default preset copies them.
    "siren": "#e0282e",            # red
    "dog_bark": "#d9822b",         # amber
    "car_horn": "#e6cf2e",         # yellow
    "jackhammer": "#8fc23a",       # lime
    "engine_idling": "#2f9e5a",    # green
    "air_conditioner": "#2fb3b3",  # teal
    "drilling": "#2f6ee0",         # blue
    "gun_shot": "#6a4ce0",         # indigo
    "street_music": "#c83cd2",     # magenta
    "children_playing": "#f27aa5",  # pink
}


def resolve_guides(items: Iterable[str | int]) -> tuple[int, ...]:
    """ImageNet indices from class names or indices (raises ValueError on an unknown name)."""
    return tuple(class_index(i) for i in items)


def guide_names(indices: Iterable[int]) -> list[str]:
    cats = imagenet_categories()
    return [cats[i] for i in indices]
