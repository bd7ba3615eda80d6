# Draws the map's marks as icons and a monogram logo (supersampled, then
# downscaled for smooth edges).
from PIL import Image, ImageDraw, ImageFont
S = 4
N = 128 * S
INK = (31, 78, 121, 255)      # brand primary
RED = (200, 71, 27, 255)

def canvas():
    return Image.new("RGBA", (N, N), (0, 0, 0, 0))

def save(img, path, size=128):
    img.resize((size, size), Image.LANCZOS).save(path, optimize=True)

def lock(d, color):
    w = 14 * S
    # shackle
    d.arc([34*S, 14*S, 94*S, 74*S], 180, 360, fill=color, width=w)
    d.line([41*S, 44*S, 41*S, 62*S], fill=color, width=w)
    d.line([87*S, 44*S, 87*S, 62*S], fill=color, width=w)
    # body
    d.rounded_rectangle([22*S, 56*S, 106*S, 118*S], radius=12*S, fill=color)
    # keyhole
    d.ellipse([56*S, 74*S, 72*S, 90*S], fill=(0, 0, 0, 0))
    d.rectangle([60*S, 84*S, 68*S, 102*S], fill=(0, 0, 0, 0))

img = canvas(); d = ImageDraw.Draw(img); lock(d, INK); save(img, "/work/main/assets/icons/securise.png")

img = canvas(); d = ImageDraw.Draw(img); lock(d, RED)
d.line([14*S, 114*S, 114*S, 14*S], fill=(255, 255, 255, 255), width=22*S)
d.line([14*S, 114*S, 114*S, 14*S], fill=RED, width=11*S)
save(img, "/work/main/assets/icons/non-securise.png")

img = canvas(); d = ImageDraw.Draw(img)
d.ellipse([40*S, 8*S, 88*S, 56*S], fill=INK)
d.pieslice([14*S, 62*S, 114*S, 162*S], 180, 360, fill=INK)
save(img, "/work/main/assets/icons/patients.png")

img = canvas(); d = ImageDraw.Draw(img)
d.rounded_rectangle([8*S, 16*S, 120*S, 92*S], radius=10*S, fill=INK)
d.rounded_rectangle([18*S, 26*S, 110*S, 82*S], radius=4*S, fill=(0, 0, 0, 0))
d.rectangle([56*S, 36*S, 72*S, 72*S], fill=INK)
d.rectangle([46*S, 46*S, 82*S, 62*S], fill=INK)
d.rectangle([54*S, 92*S, 74*S, 106*S], fill=INK)
d.rounded_rectangle([34*S, 104*S, 94*S, 116*S], radius=5*S, fill=INK)
save(img, "/work/main/assets/icons/telemedecine.png")

# Monogram logo: the CPTS's initials in a ring of the map's five colours.
L = 512 * S // 4 * 4
img = Image.new("RGBA", (L, L), (0, 0, 0, 0)); d = ImageDraw.Draw(img)
colors = [(200, 71, 27), (242, 159, 61), (62, 155, 79), (90, 175, 217), (35, 149, 140)]
for i, c in enumerate(colors):
    d.pieslice([0, 0, L - 1, L - 1], -90 + i * 72, -90 + (i + 1) * 72, fill=c + (255,))
m = L * 0.09
d.ellipse([m, m, L - 1 - m, L - 1 - m], fill=(255, 255, 255, 255))
m2 = L * 0.14
d.ellipse([m2, m2, L - 1 - m2, L - 1 - m2], fill=INK)
font = ImageFont.truetype("/work/main/assets/fonts/Lato-Black.ttf", int(L * 0.23))
d.text((L / 2, L / 2 - L * 0.04), "CPTS", font=font, fill=(255, 255, 255, 255), anchor="mm")
small = ImageFont.truetype("/work/main/assets/fonts/Lato-Bold.ttf", int(L * 0.075))
d.text((L / 2, L / 2 + L * 0.15), "MULHOUSE", font=small, fill=(255, 255, 255, 255), anchor="mm")
img.resize((512, 512), Image.LANCZOS).save("/work/main/assets/logos/cpts-mulhouse.png", optimize=True)
