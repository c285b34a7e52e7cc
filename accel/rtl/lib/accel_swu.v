// Sliding-window unit: a channels-last pixel stream (one pixel = C codes per beat, raster order)
// in, the K x K windows out, with M_PAD set on positions outside the image (zero data:
// convolutions read them as 0, max-pools skip them).
// PAR = 1: one window position per beat (ky outer, kx inner), C codes, M_PAD one bit. The image
//   is held in NR rows of line buffer (one inferable RAM, one read + one write port).
// PAR = K (column-parallel, convolutions): one window column per beat, K beats per window; beat
//   kx carries positions (ky, kx) for ky = 0..K-1, element ky*C + c (ky in the low bits), and
//   M_PAD[ky] flags position (ky, kx). The line buffer is NR row banks (one inferable RAM per
//   row slot, one read + one write port each); all banks read the window column at once and the
//   K lanes are the banks rotated by the window's first row slot. (K = 1: PAR = 1.)
// CHUNK < C (PAR = 1, folded max-pools): the line buffer holds a pixel as CF = C/CHUNK words of
//   CHUNK codes (deep and narrow: block RAM by bits, not by a pixel's width), written over CF
//   cycles, and each window position goes out as CF beats of CHUNK codes, chunk 0 (codes
//   0..CHUNK-1) first. A pixel is taken in one cycle into a holding register and written from
//   there: written off the source's beat (s_ready on its last chunk), an MVAU source, which
//   writes its next pixel's folds into its output register, would stall CF - SF cycles a pixel
//   (tiny-mnist's conv1 into its pool: 7,436 -> 9,705 cycles an image).
// Either way an input row is accepted once the row it overwrites is no longer inside any pending
// window.
// Control without coordinate arithmetic (each adder or comparison of coordinates costs LUTs in
// every instance): the position's column and row, the rows received beyond the window's first
// row and the window's needs are registers that move by constant steps; every test is against a
// constant or a small register, and every counter is only as wide as its range.
`default_nettype none
module accel_swu #(
    parameter C    = 1,    // channels per pixel
    parameter BITS = 8,    // bits per code
    parameter H    = 28,
    parameter W    = 28,
    parameter K    = 3,    // square kernel
    parameter S    = 1,    // stride
    parameter PT   = 0,    // top / left padding (bottom / right padding follows from OH / OW)
    parameter PL   = 0,
    parameter OH   = 26,   // output rows / columns (ceil-mode pools give one more)
    parameter OW   = 26,
    parameter NR   = K + S, // line-buffer rows
    parameter ZERO_PAD = 1, // 0: padded positions carry whatever (a max-pool skips them anyway)
    parameter PAR  = 1,    // window positions per beat: 1 or K (one column)
    parameter CHUNK = C    // codes per RAM word and output beat (divides C; < C: PAR = 1 only)
) (
    input  wire                  clk,
    input  wire                  rst_n,
    input  wire [C*BITS-1:0]     s_data,
    input  wire                  s_last,   // unused: the image size is a parameter
    input  wire                  s_valid,
    output wire                  s_ready,
    output wire [PAR*CHUNK*BITS-1:0] m_data,
    output reg  [PAR-1:0]        m_pad,
    output reg                   m_last,   // last beat of the image's last window
    output reg                   m_valid,
    input  wire                  m_ready
);
    localparam CB = C * BITS;
    localparam PB = CHUNK * BITS;           // one RAM word / output beat (PAR = 1)
    localparam CF = C / CHUNK;              // words per pixel
    localparam CFW = (CF > 1) ? $clog2(CF) : 1;
    localparam KY = (PAR == 1) ? K : 1;     // ky steps per window (PAR = K: all rows in one beat)
    localparam AW = $clog2(NR * W);
    // widths: each counter as wide as its range (at least 1)
    localparam RWD = $clog2(H + 1);                 // in_row: 0 .. H
    localparam IWD = (W > 1) ? $clog2(W) : 1;       // in_col: 0 .. W-1
    localparam NWD = $clog2(W + 1);                 // need_col: 1 .. W
    localparam OYW = (OH > 1) ? $clog2(OH) : 1;
    localparam OXW = (OW > 1) ? $clog2(OW) : 1;
    localparam KW  = (K > 1) ? $clog2(K) : 1;
    // signed position coordinates: -pad .. size + K, plus a sign bit
    localparam XW  = $clog2(W + K + PL + S + 2) + 1;
    localparam YW  = $clog2(H + K + PT + S + 2) + 1;
    // rows received beyond the window's first row: -S .. H + PT
    localparam AHW = $clog2(H + PT + S + 2) + 1;
    localparam [KW-1:0] KM1 = K - 1;

    // input side
    reg [RWD-1:0] in_row;               // next row to write (H when the image is in)
    reg [IWD-1:0] in_col;
    wire in_done = (in_row == H);
    wire in_eol  = (in_col == W - 1);
    // output side
    reg [OYW-1:0] oy;
    reg [OXW-1:0] ox;
    reg [KW-1:0]  ky, kx;
    reg signed [XW-1:0]  col;           // column of the position issued next (col_lo + kx)
    reg signed [AHW-1:0] ahead;         // in_row - (the window's first row)
    reg [KW-1:0]  need_rows;            // rows the window needs beyond its first: min(K-1, H-1-row_lo)
    reg [YW-1:0]  rows_left;            // H-1 - (the window's first row), >= 0
    reg [NWD-1:0] need_col;             // columns of its last row it needs: min(col_lo + K, W)
    reg           out_done;             // all windows of this image issued

    // chunks: the one written next and the one of the position issued next (0 when CF = 1)
    reg [CFW-1:0] wchunk, rchunk;
    wire w_last = (CF == 1) || (wchunk == CF - 1);
    wire r_last = (CF == 1) || (rchunk == CF - 1);
    // room only falls by a push (ahead rises by a whole row): a pixel's chunks all go in
    wire room = !in_done && (out_done || (ahead < NR));
    reg  held;                          // CF > 1: the holding register has a pixel to write
    wire wr   = (CF == 1 ? s_valid : held) && room;  // a RAM word written
    wire push = wr && w_last;           // a pixel in the RAM (its last word)
    assign s_ready = (CF == 1) ? room : (!held || push);
    wire row_in = push && in_eol;       // an input row completes

    // The window's last needed pixel has arrived: a later row, or its row up to need_col.
    wire avail = in_done || (ahead > $signed({1'b0, need_rows})) ||
                 (ahead == $signed({1'b0, need_rows}) && {1'b0, in_col} >= need_col);
    wire free  = !m_valid || m_ready;
    wire issue = !out_done && avail && free;  // a beat out
    wire adv   = issue && r_last;               // the position's last beat: move on

    wire col_pad = (col < 0) || (col >= W);
    wire [AW-1:0] col_u = col;          // as an address (used only where col is in [0, W))
    wire kx_end  = (kx == K - 1);
    wire k_end   = kx_end && (ky == KY - 1);
    wire row_end = k_end && (ox == OW - 1);
    wire img_end = row_end && (oy == OH - 1);
    localparam SLOTS0 = (NR - (PT % NR)) % NR;
    localparam SW0 = (NR > 1) ? $clog2(NR) : 1;
    localparam [SW0-1:0] SLOT0 = SLOTS0;
    // the window needs after a step down by S rows, and at an image's first window
    wire [YW-1:0] left_next = rows_left - S;
    localparam [YW-1:0] LEFT0 = H - 1 + PT;
    localparam [KW-1:0] NEED0 = (H - 1 + PT < K - 1) ? H - 1 + PT : K - 1;
    localparam [NWD-1:0] NCOL0 = (K - PL < W) ? K - PL : W;
    wire [NWD:0] ncol_step = need_col + S;

    genvar b;
    generate
        if (PAR == 1) begin : g_pos
            // row of the position issued next (row_lo + ky) and where its row starts in the
            // RAM (row slot * W * CF words), the window's first row's start, and the write
            // pointer: all moved by constant steps (no multiplier, no coordinate adder).
            localparam DEPTH = NR * W * CF;
            localparam MW = $clog2(DEPTH);
            localparam [MW-1:0] BASE0 = SLOTS0 * W * CF;
            reg signed [YW-1:0] row;
            reg [MW-1:0] rbase, wbase, wptr;
            wire pad = (row < 0) || (row >= H) || col_pad;
            wire [MW:0] rbase_next = rbase + W * CF;
            wire [MW:0] wbase_next = wbase + S * W * CF;
            wire [MW-1:0] offset;           // the word's offset in its row: col * CF + rchunk
            wire [PB-1:0] wdata;
            if (CF == 1) begin : g_whole
                assign offset = col_u;
                assign wdata = s_data;
            end else begin : g_chunk
                // col * CF + rchunk, mod 2^MW (exact whenever col is inside the row): +1 a
                // beat, and at a position's last beat col's step times CF, less the CF - 1
                // beats already counted
                localparam [MW-1:0] OFF0 = -PL * CF;
                reg [MW-1:0] off;
                always @(posedge clk or negedge rst_n)
                    if (!rst_n) off <= OFF0;
                    else if (issue) begin
                        if (!kx_end || !r_last) off <= off + 1'b1;
                        else if (!k_end) off <= off + 1 - K * CF;
                        else if (!row_end) off <= off + 1 - (K - S) * CF;
                        else off <= OFF0;
                    end
                assign offset = off;
                reg [CB-1:0] hold;
                always @(posedge clk) if (s_valid && s_ready) hold <= s_data;
                accel_mux #(.N(CF), .W(PB)) u_wsel (.in(hold), .sel(wchunk), .out(wdata));
            end
            wire [MW-1:0] raddr = pad ? {MW{1'b0}} : rbase + offset;
            reg [PB-1:0] mem [0:DEPTH-1];
            reg [PB-1:0] rdata;
            always @(posedge clk) begin
                if (wr) mem[wptr] <= wdata;
                // a padded position loads zeros (reset over enable, as FDRE's R over CE: no
                // gating LUT per output bit)
                if (issue && ZERO_PAD != 0 && pad) rdata <= {PB{1'b0}};
                else if (issue) rdata <= mem[raddr];
            end
            assign m_data = rdata;
            always @(posedge clk or negedge rst_n)
                if (!rst_n) begin
                    m_pad <= 1'b0; row <= -PT; rbase <= BASE0; wbase <= BASE0; wptr <= 0;
                end else begin
                    if (in_done && out_done) wptr <= 0;
                    else if (wr) wptr <= (wptr == DEPTH - 1) ? 0 : wptr + 1'b1;
                    if (issue) m_pad <= pad;
                    if (adv) begin
                        if (kx_end) begin
                            if (!k_end) begin            // next row of the window
                                row <= row + 1;
                                rbase <= (rbase_next >= DEPTH) ? rbase_next - DEPTH
                                                               : rbase_next;
                            end else if (!row_end) begin // next window, same rows
                                row <= row - (K - 1);
                                rbase <= wbase;
                            end else if (!img_end) begin // next window row, S rows down
                                row <= row - (K - 1) + S;
                                wbase <= (wbase_next >= DEPTH) ? wbase_next - DEPTH
                                                               : wbase_next;
                                rbase <= (wbase_next >= DEPTH) ? wbase_next - DEPTH
                                                               : wbase_next;
                            end else begin
                                row <= -PT; rbase <= BASE0; wbase <= BASE0;
                            end
                        end
                    end
                end
        end else if (PAR == K) begin : g_col
            localparam BW = (W > 1) ? $clog2(W) : 1;
            localparam SW = $clog2(NR);      // NR >= 2 here (K >= 2; K = 1 is PAR = 1)
            reg [SW-1:0] in_slot;            // in_row mod NR: the bank written
            reg [SW-1:0] base_slot;          // the window's first row slot (bank of lane 0)
            reg signed [YW-1:0] row_lo;      // the window's first row
            wire [SW:0] slot_next = base_slot + S;
            wire [BW-1:0] col_addr = col_pad ? {BW{1'b0}} : col_u[BW-1:0];
            // At issue, lane j (window row j) lives in bank (first slot + j) mod NR; a lane is
            // padded when the column or its row is outside the image. The bank feeding a padded
            // lane loads zeros into its read register (a synchronous reset, no output gating),
            // so each lane is a plain NR:1 mux on a binary select (one LUT6 a bit for NR = 4).
            reg [K*SW-1:0] lane_bank;
            reg [K-1:0]    lane_pad;
            reg [NR-1:0]   bank_zero;
            always @(*) begin : g_map
                integer i, n;
                bank_zero = {NR{1'b0}};
                for (i = 0; i < K; i = i + 1) begin
                    lane_bank[i*SW +: SW] = (base_slot + i >= NR) ? base_slot + i - NR
                                                                  : base_slot + i;
                    // row_lo + i outside [0, H): compared with constants
                    lane_pad[i] = col_pad || (row_lo < -i) || (row_lo >= H - i);
                    for (n = 0; n < NR; n = n + 1)
                        if (ZERO_PAD != 0 && lane_pad[i] && lane_bank[i*SW +: SW] == n)
                            bank_zero[n] = 1'b1;
                end
            end
            wire [NR*CB-1:0] q;              // every bank's word at the window column
            for (b = 0; b < NR; b = b + 1) begin : g_bank
                reg [CB-1:0] mem [0:W-1];
                reg [CB-1:0] rdata;
                always @(posedge clk) begin
                    if (push && in_slot == b) mem[in_col[BW-1:0]] <= s_data;
                    // reset over enable, as FDRE's R over CE: yosys keeps it a plain FF reset
                    if (issue && bank_zero[b]) rdata <= {CB{1'b0}};
                    else if (issue) rdata <= mem[col_addr];
                end
                assign q[b*CB +: CB] = rdata;
            end
            reg [K*SW-1:0] sel;              // the lane -> bank map of the beat out
            always @(posedge clk or negedge rst_n)
                if (!rst_n) begin
                    sel <= {K*SW{1'b0}}; m_pad <= {PAR{1'b0}};
                    in_slot <= 0; base_slot <= SLOT0; row_lo <= -PT;
                end else begin
                    if (in_done && out_done) in_slot <= 0;
                    else if (row_in) in_slot <= (in_slot == NR - 1) ? 0 : in_slot + 1'b1;
                    if (issue) begin
                        sel <= lane_bank; m_pad <= lane_pad;
                        if (img_end) begin
                            row_lo <= -PT; base_slot <= SLOT0;
                        end else if (row_end) begin
                            row_lo <= row_lo + S;
                            base_slot <= (slot_next >= NR) ? slot_next - NR : slot_next;
                        end
                    end
                end
            reg [K*CB-1:0] lanes;
            always @(*) begin : g_mux
                integer i, n;
                lanes = {K*CB{1'b0}};
                for (i = 0; i < K; i = i + 1)
                    for (n = 0; n < NR; n = n + 1)
                        if (sel[i*SW +: SW] == n) lanes[i*CB +: CB] = q[n*CB +: CB];
            end
            assign m_data = lanes;
        end else begin : g_bad_par
            accel_swu_PAR_must_be_1_or_K u_bad ();   // elaboration error on purpose
        end
        if (C % CHUNK != 0 || (CF > 1 && PAR != 1)) begin : g_bad_chunk
            accel_swu_CHUNK_must_divide_C_at_PAR_1 u_bad ();
        end
    endgenerate

    // ahead moves by constants: +1 per input row, -S per window row, +S*(OH-1) at the image's
    // last window (the first row goes back to -PT), PT at the next image.
    localparam signed [AHW-1:0] BACK = S * (OH - 1);
    wire signed [AHW-1:0] step_out = !(adv && row_end) ? 0 : (img_end ? BACK : -S);
    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            in_row <= 0; in_col <= 0;
            oy <= 0; ox <= 0; ky <= 0; kx <= 0; col <= -PL; wchunk <= 0; rchunk <= 0;
            held <= 1'b0;
            ahead <= PT; need_rows <= NEED0; rows_left <= LEFT0; need_col <= NCOL0;
            out_done <= 1'b0; m_valid <= 1'b0; m_last <= 1'b0;
        end else begin
            if (in_done && out_done) begin          // both sides finished: next image
                in_row <= 0; in_col <= 0; out_done <= 1'b0; ahead <= PT;
            end else begin
                if (push) begin
                    in_col <= in_eol ? 0 : in_col + 1'b1;
                    if (in_eol) in_row <= in_row + 1'b1;
                end
                ahead <= ahead + $signed({{(AHW-1){1'b0}}, row_in}) + step_out;
            end
            if (CF > 1 && wr) wchunk <= w_last ? 0 : wchunk + 1'b1;
            if (CF > 1 && s_ready) held <= s_valid;
            if (CF > 1 && issue) rchunk <= r_last ? 0 : rchunk + 1'b1;
            if (free) m_valid <= issue;
            if (issue) m_last <= img_end && r_last;
            if (adv) begin
                if (!kx_end) begin
                    kx <= kx + 1'b1; col <= col + 1;
                end else begin
                    kx <= 0;
                    if (!k_end) begin
                        ky <= ky + 1'b1; col <= col - (K - 1);
                    end else begin
                        ky <= 0;
                        if (!row_end) begin
                            ox <= ox + 1'b1; col <= col - (K - 1) + S;
                            need_col <= (ncol_step > W) ? W : ncol_step[NWD-1:0];
                        end else begin
                            ox <= 0; col <= -PL; need_col <= NCOL0;
                            if (!img_end) begin
                                oy <= oy + 1'b1;
                                rows_left <= left_next;
                                need_rows <= (left_next < K - 1) ? left_next[KW-1:0] : KM1;
                            end else begin
                                oy <= 0; rows_left <= LEFT0; need_rows <= NEED0;
                                out_done <= 1'b1;
                            end
                        end
                    end
                end
            end
        end
    end
endmodule
`default_nettype wire
