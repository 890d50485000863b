// The emoji the picker offers: a curated few hundred that chats use, ours, with English and French
// names to search by. Not the whole Unicode set on purpose: thousands of emoji and their names would
// be most of the chunk's size for glyphs nobody looks for in a support chat (and flags render as
// letters on Windows). One string per category keeps the data compact in the bundle:
//   entries separated by ";", each "EMOJI english names, comma separated|noms français".
// The first English and French names are what a screen reader says for the emoji.

export type CategoryId = "smileys" | "people" | "hearts" | "nature" | "food" | "activities" | "travel" | "objects";

export const EMOJI_DATA: readonly [CategoryId, string][] = [
  ["smileys",
    "😀 grinning face,smile,happy|visage souriant,sourire,content;" +
    "😃 smiling face with big eyes,happy,joy|visage souriant aux grands yeux,joie;" +
    "😄 smiling face with smiling eyes,laugh|visage souriant aux yeux rieurs,rire;" +
    "😁 beaming face,grin|visage rayonnant,sourire;" +
    "😆 laughing face,haha|visage qui rit,mdr;" +
    "😅 grinning face with sweat,phew,relief|visage souriant avec une goutte,ouf;" +
    "🤣 rolling on the floor laughing,rofl,lol|mort de rire,rire;" +
    "😂 face with tears of joy,lol,laugh|visage riant aux larmes,rire,mdr;" +
    "🙂 slightly smiling face,smile|visage avec un léger sourire,sourire;" +
    "🙃 upside-down face,silly|visage à l’envers,bête;" +
    "😉 winking face,wink|visage qui fait un clin d’œil,clin d’œil;" +
    "😊 smiling face with blush,happy,shy|visage souriant aux joues roses,timide;" +
    "😇 smiling face with halo,angel,innocent|visage souriant avec auréole,ange,innocent;" +
    "🥰 smiling face with hearts,love|visage souriant avec des cœurs,amour;" +
    "😍 heart eyes,love,crush|yeux en cœur,amour,coup de foudre;" +
    "🤩 star-struck,wow,amazing|visage étoilé,waouh,génial;" +
    "😘 face blowing a kiss,kiss|visage envoyant un bisou,bisou,bise;" +
    "😋 face savoring food,yum,delicious|miam,délicieux,savourer;" +
    "😛 face with tongue,tongue,playful|visage qui tire la langue,langue;" +
    "😜 winking face with tongue,crazy,joke|clin d’œil tirant la langue,blague;" +
    "🤪 zany face,crazy,goofy|visage loufoque,fou;" +
    "🤑 money-mouth face,money,rich|bouche argent,argent,riche;" +
    "🤗 hugging face,hug|visage qui fait un câlin,câlin;" +
    "🤭 face with hand over mouth,oops,giggle|main sur la bouche,oups;" +
    "🤫 shushing face,quiet,secret|chut,silence,secret;" +
    "🤔 thinking face,think,hmm|visage pensif,réfléchir,hmm;" +
    "🤐 zipper-mouth face,secret,silent|bouche cousue,secret;" +
    "🤨 face with raised eyebrow,doubt,skeptical|sourcil levé,doute,sceptique;" +
    "😐 neutral face,meh|visage neutre,bof;" +
    "😑 expressionless face,blank|visage sans expression;" +
    "😶 face without mouth,speechless|visage sans bouche,sans voix;" +
    "😏 smirking face,smirk|visage avec un sourire en coin,narquois;" +
    "😒 unamused face,annoyed|visage blasé,agacé;" +
    "🙄 face with rolling eyes,eye roll|yeux au ciel,lever les yeux;" +
    "😬 grimacing face,awkward,oops|visage grimaçant,gêne,oups;" +
    "😌 relieved face,calm,relief|visage soulagé,soulagement,calme;" +
    "😔 pensive face,sad|visage pensif triste,triste;" +
    "😪 sleepy face,tired|visage endormi,fatigué;" +
    "😴 sleeping face,sleep,zzz|visage qui dort,dormir,sommeil;" +
    "😷 face with medical mask,sick,mask|visage avec masque,malade,masque;" +
    "🤒 face with thermometer,ill,fever|visage avec thermomètre,fièvre,malade;" +
    "🤢 nauseated face,sick,gross|visage nauséeux,nausée,beurk;" +
    "🤧 sneezing face,sneeze,cold|visage qui éternue,rhume,atchoum;" +
    "🥵 hot face,heat|visage qui a chaud,chaleur,canicule;" +
    "🥶 cold face,freezing|visage qui a froid,froid,gelé;" +
    "😵 dizzy face,dizzy|visage étourdi,vertige;" +
    "🤯 exploding head,mind blown,shocked|tête qui explose,choqué,hallucinant;" +
    "🤠 cowboy hat face,cowboy|visage avec chapeau de cowboy,cowboy;" +
    "🥳 partying face,party,celebrate|visage festif,fête,célébrer;" +
    "😎 smiling face with sunglasses,cool|visage avec lunettes de soleil,cool,classe;" +
    "🤓 nerd face,geek|visage de geek,intello;" +
    "🧐 face with monocle,inspect|visage avec monocle,examiner;" +
    "😕 confused face,confused|visage confus,perplexe;" +
    "😟 worried face,worried|visage inquiet,inquiet;" +
    "🙁 slightly frowning face,sad|visage légèrement mécontent,triste;" +
    "😮 face with open mouth,surprised,wow|visage bouche bée,surpris;" +
    "😲 astonished face,shocked|visage stupéfait,stupéfait,choc;" +
    "😳 flushed face,embarrassed|visage rouge,gêné,embarrassé;" +
    "🥺 pleading face,please,puppy eyes|visage suppliant,s’il te plaît,supplier;" +
    "😦 frowning face with open mouth|visage renfrogné bouche ouverte;" +
    "😨 fearful face,scared|visage effrayé,peur;" +
    "😰 anxious face with sweat,nervous|visage anxieux,nerveux,stress;" +
    "😢 crying face,sad,tear|visage qui pleure,triste,larme;" +
    "😭 loudly crying face,sob|visage en pleurs,sanglot;" +
    "😱 face screaming in fear,scream|visage qui hurle de peur,cri,horreur;" +
    "😖 confounded face,frustrated|visage déconcerté,frustré;" +
    "😞 disappointed face,disappointed|visage déçu,déception;" +
    "😓 downcast face with sweat|visage démoralisé avec goutte;" +
    "😩 weary face,tired,ugh|visage las,épuisé;" +
    "😫 tired face,exhausted|visage fatigué,épuisé;" +
    "🥱 yawning face,bored,yawn|visage qui bâille,ennui,bâiller;" +
    "😤 face with steam from nose,triumph,huff|visage qui souffle par le nez,triomphe;" +
    "😡 pouting face,angry,rage|visage boudeur,en colère,rage;" +
    "😠 angry face,mad|visage en colère,fâché;" +
    "🤬 face with symbols on mouth,swearing|visage avec des symboles,jurons;" +
    "😈 smiling face with horns,devil|visage souriant avec des cornes,diable;" +
    "💀 skull,dead|crâne,mort;" +
    "💩 pile of poo,poop|tas de caca,caca;" +
    "🤡 clown face,clown|visage de clown,clown;" +
    "👻 ghost,boo|fantôme;" +
    "👽 alien,ufo|extraterrestre,alien;" +
    "🤖 robot,bot|robot,bot;" +
    "😺 grinning cat,cat|chat qui sourit,chat;" +
    "🙈 see-no-evil monkey,oops,shy|singe ne rien voir,oups"],
  ["people",
    "👋 waving hand,hello,hi,bye|main qui salue,bonjour,salut,au revoir;" +
    "🤚 raised back of hand|dos de la main levé;" +
    "✋ raised hand,stop,high five|main levée,stop;" +
    "🖐️ hand with fingers splayed|main aux doigts écartés;" +
    "👌 ok hand,ok,perfect|main ok,d’accord,parfait;" +
    "🤌 pinched fingers,italian|doigts pincés;" +
    "🤏 pinching hand,small,tiny|main qui pince,petit;" +
    "✌️ victory hand,peace|main faisant le v de la victoire,paix;" +
    "🤞 crossed fingers,luck,hope|doigts croisés,chance,espoir;" +
    "🤟 love-you gesture|geste je t’aime;" +
    "🤘 sign of the horns,rock|cornes avec les doigts,rock;" +
    "🤙 call me hand,call|main qui appelle,appelle-moi;" +
    "👈 backhand index pointing left,left|index pointant à gauche,gauche;" +
    "👉 backhand index pointing right,right|index pointant à droite,droite;" +
    "👆 backhand index pointing up,up|index pointant vers le haut,haut;" +
    "👇 backhand index pointing down,down|index pointant vers le bas,bas;" +
    "☝️ index pointing up|index pointé vers le haut;" +
    "👍 thumbs up,like,yes,ok|pouce levé,j’aime,oui,ok;" +
    "👎 thumbs down,dislike,no|pouce baissé,je n’aime pas,non;" +
    "✊ raised fist,fist|poing levé,poing;" +
    "👊 oncoming fist,punch|poing de face,coup de poing;" +
    "👏 clapping hands,applause,bravo|mains qui applaudissent,applaudir,bravo;" +
    "🙌 raising hands,hooray,celebrate|mains levées,hourra,célébrer;" +
    "👐 open hands|mains ouvertes;" +
    "🤲 palms up together|paumes vers le haut;" +
    "🤝 handshake,deal,agreement|poignée de main,accord,marché conclu;" +
    "🙏 folded hands,please,thanks,pray|mains jointes,s’il vous plaît,merci,prier;" +
    "✍️ writing hand,write|main qui écrit,écrire;" +
    "💪 flexed biceps,strong|biceps contracté,fort,force;" +
    "👀 eyes,look,see|yeux,regarder,voir;" +
    "👁️ eye|œil;" +
    "🧠 brain,smart|cerveau,intelligent;" +
    "👶 baby|bébé;" +
    "🧒 child,kid|enfant;" +
    "👩 woman|femme;" +
    "👨 man|homme;" +
    "🧑 person|personne;" +
    "👵 old woman,grandma|femme âgée,mamie;" +
    "👴 old man,grandpa|homme âgé,papi;" +
    "🙋 person raising hand,question|personne qui lève la main,question;" +
    "🙅 person gesturing no,no|personne faisant non,non;" +
    "🙆 person gesturing ok|personne faisant ok;" +
    "🤷 person shrugging,shrug,dunno|personne qui hausse les épaules,aucune idée;" +
    "🤦 person facepalming,facepalm|personne avec la main sur le front,consterné;" +
    "💁 person tipping hand,info|personne paume vers le haut,renseignement;" +
    "🧑‍💻 technologist,developer,computer|informaticien,développeur,ordinateur;" +
    "🧑‍🍳 cook,chef|cuisinier,chef;" +
    "🧑‍🔧 mechanic,repair|mécanicien,réparation;" +
    "🧑‍⚕️ health worker,doctor|professionnel de la santé,médecin;" +
    "🏃 person running,run,hurry|personne qui court,courir,vite;" +
    "💃 woman dancing,dance|danseuse,danser;" +
    "🕺 man dancing,dance|danseur,danser;" +
    "👪 family|famille"],
  ["hearts",
    "❤️ red heart,heart,love|cœur rouge,cœur,amour;" +
    "🧡 orange heart|cœur orange;" +
    "💛 yellow heart|cœur jaune;" +
    "💚 green heart|cœur vert;" +
    "💙 blue heart|cœur bleu;" +
    "💜 purple heart|cœur violet;" +
    "🖤 black heart|cœur noir;" +
    "🤍 white heart|cœur blanc;" +
    "💔 broken heart,heartbreak|cœur brisé,chagrin;" +
    "💕 two hearts,love|deux cœurs,amour;" +
    "💖 sparkling heart|cœur étincelant;" +
    "💯 hundred points,100,perfect|cent points,100,parfait;" +
    "💢 anger symbol,angry|symbole de colère,colère;" +
    "💥 collision,boom|explosion,boum;" +
    "💫 dizzy symbol,stars|étourdissement,étoiles;" +
    "💬 speech balloon,chat,message|bulle de dialogue,discussion,message;" +
    "💭 thought balloon,thinking|bulle de pensée,penser;" +
    "💤 zzz,sleep|sommeil,dodo;" +
    "✅ check mark button,done,yes|bouton coché,fait,oui,valider;" +
    "✔️ check mark,ok|coche,ok;" +
    "❌ cross mark,no,wrong|croix,non,faux;" +
    "❓ question mark,question|point d’interrogation,question;" +
    "❗ exclamation mark,important|point d’exclamation,important;" +
    "⚠️ warning,caution|avertissement,attention;" +
    "🚫 prohibited,forbidden,no|interdit,défendu;" +
    "⛔ no entry,stop|sens interdit,stop;" +
    "🆗 ok button,ok|bouton ok;" +
    "🆕 new button,new|bouton nouveau,nouveau;" +
    "🆓 free button,free|bouton gratuit,gratuit;" +
    "ℹ️ information,info|information,info;" +
    "🔥 fire,hot,lit|feu,chaud,flamme;" +
    "✨ sparkles,new,shiny|étincelles,brillant,nouveau;" +
    "⭐ star,favorite|étoile,favori;" +
    "🌟 glowing star,shine|étoile brillante;" +
    "⚡ high voltage,lightning,fast|haute tension,éclair,rapide;" +
    "🎵 musical note,music|note de musique,musique;" +
    "➕ plus,add|plus,ajouter;" +
    "➖ minus,remove|moins,retirer;" +
    "🔔 bell,notification|cloche,notification;" +
    "🔒 locked,secure,private|cadenas fermé,sécurisé,privé"],
  ["nature",
    "🐶 dog face,dog,puppy|tête de chien,chien,chiot;" +
    "🐱 cat face,cat,kitten|tête de chat,chat,chaton;" +
    "🐭 mouse face,mouse|tête de souris,souris;" +
    "🐰 rabbit face,bunny|tête de lapin,lapin;" +
    "🦊 fox,fox face|renard;" +
    "🐻 bear,bear face|ours;" +
    "🐼 panda|panda;" +
    "🐨 koala|koala;" +
    "🐯 tiger face,tiger|tête de tigre,tigre;" +
    "🦁 lion|lion;" +
    "🐮 cow face,cow|tête de vache,vache;" +
    "🐷 pig face,pig|tête de cochon,cochon;" +
    "🐸 frog|grenouille;" +
    "🐵 monkey face,monkey|tête de singe,singe;" +
    "🐔 chicken|poule;" +
    "🐧 penguin|pingouin,manchot;" +
    "🐦 bird|oiseau;" +
    "🦄 unicorn|licorne;" +
    "🐝 honeybee,bee|abeille;" +
    "🦋 butterfly|papillon;" +
    "🐌 snail,slow|escargot,lent;" +
    "🐢 turtle,slow|tortue,lent;" +
    "🐍 snake|serpent;" +
    "🐙 octopus|pieuvre,poulpe;" +
    "🐟 fish|poisson;" +
    "🐬 dolphin|dauphin;" +
    "🐳 spouting whale,whale|baleine;" +
    "🦈 shark|requin;" +
    "🌸 cherry blossom,flower|fleur de cerisier,fleur;" +
    "🌹 rose,flower|rose,fleur;" +
    "🌻 sunflower|tournesol;" +
    "🌷 tulip|tulipe;" +
    "💐 bouquet,flowers|bouquet,fleurs;" +
    "🌱 seedling,plant,grow|jeune pousse,plante;" +
    "🌲 evergreen tree,tree|conifère,sapin,arbre;" +
    "🌳 deciduous tree,tree|arbre à feuilles caduques,arbre;" +
    "🌴 palm tree,holiday|palmier,vacances;" +
    "🍀 four leaf clover,luck|trèfle à quatre feuilles,chance;" +
    "🍁 maple leaf,autumn|feuille d’érable,automne;" +
    "☀️ sun,sunny|soleil,ensoleillé;" +
    "🌤️ sun behind small cloud|soleil derrière un petit nuage;" +
    "☁️ cloud|nuage;" +
    "🌧️ cloud with rain,rain|nuage avec pluie,pluie;" +
    "⛈️ thunderstorm,storm|orage;" +
    "❄️ snowflake,snow,cold|flocon de neige,neige,froid;" +
    "☃️ snowman|bonhomme de neige;" +
    "🌈 rainbow|arc-en-ciel;" +
    "🌙 crescent moon,night|croissant de lune,lune,nuit;" +
    "🌍 globe europe africa,world,earth|globe europe afrique,monde,terre;" +
    "🌊 water wave,sea,ocean|vague,mer,océan"],
  ["food",
    "🍎 red apple,apple|pomme rouge,pomme;" +
    "🍐 pear|poire;" +
    "🍊 tangerine,orange|mandarine,orange;" +
    "🍋 lemon|citron;" +
    "🍌 banana|banane;" +
    "🍉 watermelon|pastèque;" +
    "🍇 grapes|raisin;" +
    "🍓 strawberry|fraise;" +
    "🍒 cherries|cerises;" +
    "🍑 peach|pêche;" +
    "🍍 pineapple|ananas;" +
    "🥝 kiwi fruit,kiwi|kiwi;" +
    "🍅 tomato|tomate;" +
    "🥑 avocado|avocat;" +
    "🥕 carrot|carotte;" +
    "🌽 ear of corn,corn|épi de maïs,maïs;" +
    "🥦 broccoli|brocoli;" +
    "🥐 croissant|croissant;" +
    "🥖 baguette bread,bread|baguette,pain;" +
    "🧀 cheese wedge,cheese|part de fromage,fromage;" +
    "🥚 egg|œuf;" +
    "🍳 cooking,fried egg|cuisiner,œuf au plat;" +
    "🥞 pancakes|pancakes,crêpes;" +
    "🥓 bacon|lard,bacon;" +
    "🍔 hamburger,burger|hamburger,burger;" +
    "🍟 french fries,fries|frites;" +
    "🍕 pizza|pizza;" +
    "🌭 hot dog|hot-dog;" +
    "🥪 sandwich|sandwich;" +
    "🌮 taco|taco;" +
    "🥗 green salad,salad|salade verte,salade;" +
    "🍝 spaghetti,pasta|spaghetti,pâtes;" +
    "🍜 steaming bowl,ramen,noodles|bol fumant,ramen,nouilles;" +
    "🍣 sushi|sushi;" +
    "🍦 soft ice cream,ice cream|glace italienne,glace;" +
    "🍩 doughnut,donut|beignet,donut;" +
    "🍪 cookie|cookie,biscuit;" +
    "🎂 birthday cake,birthday|gâteau d’anniversaire,anniversaire;" +
    "🍰 shortcake,cake|gâteau,part de gâteau;" +
    "🍫 chocolate bar,chocolate|tablette de chocolat,chocolat;" +
    "🍬 candy,sweet|bonbon;" +
    "☕ hot beverage,coffee,tea|boisson chaude,café,thé;" +
    "🍵 teacup without handle,tea|tasse sans anse,thé;" +
    "🍺 beer mug,beer|chope de bière,bière;" +
    "🍷 wine glass,wine|verre de vin,vin;" +
    "🥂 clinking glasses,cheers,toast|trinquer,santé,tchin;" +
    "🍾 bottle with popping cork,champagne|bouteille de champagne,champagne;" +
    "🥤 cup with straw,soda|gobelet avec paille,soda"],
  ["activities",
    "⚽ soccer ball,football|ballon de football,foot;" +
    "🏀 basketball|basket;" +
    "🏈 american football|football américain;" +
    "🎾 tennis|tennis;" +
    "🏐 volleyball|volley;" +
    "🏉 rugby football,rugby|ballon de rugby,rugby;" +
    "🏓 ping pong,table tennis|ping-pong,tennis de table;" +
    "⛳ flag in hole,golf|drapeau de golf,golf;" +
    "🎯 bullseye,target,goal|dans le mille,cible,objectif;" +
    "🏆 trophy,win,champion|trophée,victoire,champion;" +
    "🥇 1st place medal,gold,first|médaille d’or,premier;" +
    "🏅 sports medal,medal|médaille sportive,médaille;" +
    "🎉 party popper,congratulations,party|cotillons,félicitations,fête;" +
    "🎊 confetti ball,celebration|confettis,célébration;" +
    "🎈 balloon,party|ballon de baudruche,fête;" +
    "🎁 wrapped gift,gift,present|cadeau emballé,cadeau;" +
    "🎄 christmas tree,christmas|sapin de noël,noël;" +
    "🎃 jack-o-lantern,halloween|citrouille,halloween;" +
    "🎮 video game,game|jeu vidéo,manette;" +
    "🎲 game die,dice|dé;" +
    "🧩 puzzle piece,puzzle|pièce de puzzle,puzzle;" +
    "🎨 artist palette,art|palette de peintre,art;" +
    "🎬 clapper board,movie|clap,film,cinéma;" +
    "🎤 microphone,sing|micro,chanter;" +
    "🎧 headphone,music|casque,musique;" +
    "🎸 guitar|guitare;" +
    "🎹 musical keyboard,piano|clavier musical,piano;" +
    "📚 books,read|livres,lire;" +
    "🚴 person biking,bike|cycliste,vélo;" +
    "🏊 person swimming,swim|nageur,nager;" +
    "🧘 person in lotus position,yoga|personne en position du lotus,yoga;" +
    "⛷️ skier,ski|skieur,ski"],
  ["travel",
    "🚗 automobile,car|voiture,auto;" +
    "🚕 taxi|taxi;" +
    "🚌 bus|bus;" +
    "🚚 delivery truck,delivery,shipping|camion de livraison,livraison;" +
    "🚛 articulated lorry,truck|semi-remorque,camion;" +
    "🚲 bicycle,bike|vélo,bicyclette;" +
    "🛵 motor scooter,scooter|scooter;" +
    "🚂 locomotive,train|locomotive,train;" +
    "🚆 train|train;" +
    "🚇 metro,subway|métro;" +
    "✈️ airplane,plane,flight|avion,vol;" +
    "🚀 rocket,launch,fast|fusée,lancement,rapide;" +
    "🚢 ship,boat|navire,bateau;" +
    "⛵ sailboat|voilier;" +
    "🚦 vertical traffic light|feu tricolore;" +
    "🚧 construction,work in progress|travaux,en cours;" +
    "⛽ fuel pump,gas|pompe à essence,essence;" +
    "🗺️ world map,map|carte du monde,carte;" +
    "📍 round pushpin,location,pin|punaise,lieu,position;" +
    "🏠 house,home|maison,domicile;" +
    "🏢 office building,office|immeuble de bureaux,bureau;" +
    "🏪 convenience store,shop|supérette,magasin,boutique;" +
    "🏬 department store,store|grand magasin,magasin;" +
    "🏨 hotel|hôtel;" +
    "🏥 hospital|hôpital;" +
    "🏫 school|école;" +
    "🏖️ beach with umbrella,beach,holiday|plage avec parasol,plage,vacances;" +
    "⛰️ mountain|montagne;" +
    "🗼 tokyo tower,tower|tour de tokyo,tour;" +
    "🗽 statue of liberty|statue de la liberté;" +
    "🧳 luggage,travel|bagage,voyage,valise;" +
    "⏰ alarm clock,time|réveil,heure;" +
    "⌛ hourglass done,wait|sablier,attendre;" +
    "📅 calendar,date|calendrier,date"],
  ["objects",
    "📱 mobile phone,phone,smartphone|téléphone portable,téléphone,mobile;" +
    "💻 laptop,computer|ordinateur portable,ordinateur;" +
    "🖥️ desktop computer,screen|ordinateur de bureau,écran;" +
    "⌨️ keyboard|clavier;" +
    "🖱️ computer mouse,mouse|souris d’ordinateur,souris;" +
    "🖨️ printer|imprimante;" +
    "📷 camera,photo|appareil photo,photo;" +
    "📺 television,tv|télévision,télé;" +
    "☎️ telephone,call|téléphone,appel;" +
    "🔋 battery|pile,batterie;" +
    "🔌 electric plug,plug|prise électrique,prise;" +
    "💡 light bulb,idea|ampoule,idée;" +
    "🔦 flashlight|lampe torche;" +
    "📦 package,parcel,box,delivery|colis,paquet,carton,livraison;" +
    "📫 mailbox,mail|boîte aux lettres,courrier;" +
    "✉️ envelope,email,letter|enveloppe,email,lettre;" +
    "📧 e-mail,email|e-mail,courriel;" +
    "📝 memo,note,write|mémo,note,écrire;" +
    "📎 paperclip,attachment|trombone,pièce jointe;" +
    "✂️ scissors,cut|ciseaux,couper;" +
    "📌 pushpin,pin|punaise,épingler;" +
    "📄 page facing up,document|page,document;" +
    "📊 bar chart,chart,stats|graphique à barres,statistiques;" +
    "📈 chart increasing,growth|graphique en hausse,croissance;" +
    "📉 chart decreasing,decline|graphique en baisse,baisse;" +
    "🗓️ spiral calendar,schedule|calendrier à spirale,planning;" +
    "🔑 key,password|clé,mot de passe,clef;" +
    "🔓 unlocked,open|cadenas ouvert,ouvert;" +
    "🔍 magnifying glass,search|loupe,chercher,recherche;" +
    "🔧 wrench,fix,tool|clé à molette,réparer,outil;" +
    "🔨 hammer,tool|marteau,outil;" +
    "⚙️ gear,settings|engrenage,réglages,paramètres;" +
    "🛒 shopping cart,cart,basket|caddie,panier,chariot;" +
    "🛍️ shopping bags,shopping|sacs de shopping,achats;" +
    "💳 credit card,card,payment|carte bancaire,carte,paiement;" +
    "💰 money bag,money|sac d’argent,argent;" +
    "💶 euro banknote,euro|billet en euros,euro;" +
    "💵 dollar banknote,dollar|billet en dollars,dollar;" +
    "🧾 receipt,invoice|reçu,facture,ticket;" +
    "🏷️ label,tag,price|étiquette,prix;" +
    "🎫 ticket|ticket,billet;" +
    "👕 t-shirt,shirt|t-shirt,tee-shirt;" +
    "👗 dress|robe;" +
    "👟 running shoe,sneaker|chaussure de sport,basket;" +
    "👜 handbag,bag|sac à main,sac;" +
    "🕶️ sunglasses|lunettes de soleil;" +
    "⌚ watch|montre;" +
    "💍 ring|bague;" +
    "🛋️ couch and lamp,sofa|canapé et lampe,canapé;" +
    "🛏️ bed|lit;" +
    "🚪 door|porte;" +
    "🧸 teddy bear,toy|ours en peluche,jouet,nounours;" +
    "💊 pill,medicine|pilule,médicament;" +
    "🧴 lotion bottle,cream|flacon de lotion,crème;" +
    "🪴 potted plant,plant|plante en pot,plante"],
];
