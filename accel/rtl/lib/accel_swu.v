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
// Either way an input row is accepted once the row it overwrites is no longer inside any pending
// window.
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
    parameter PAR  = 1     // window positions per beat: 1 or K (one column)
) (
    input  wire                  clk,
    input  wire                  rst_n,
    input  wire [C*BITS-1:0]     s_data,
    input  wire                  s_last,   // unused: the image size is a parameter
    input  wire                  s_valid,
    output wire                  s_ready,
    output wire [PAR*C*BITS-1:0] m_data,
    output reg  [PAR-1:0]        m_pad,
    output reg                   m_last,   // last beat of the image's last window
    output reg                   m_valid,
    input  wire                  m_ready
);
    localparam CB = C * BITS;
    localparam KY = (PAR == 1) ? K : 1;     // ky steps per window (PAR = K: all rows in one beat)
    localparam AW = $clog2(NR * W);
    // coordinate width: signed, wide enough for -pad .. H + K and for RAM addresses
    localparam CW0 = $clog2((H > W ? H : W) + 2 * K + 2) + 2;
    localparam CW  = (CW0 > AW + 1) ? CW0 : AW + 1;

    // input side
    reg signed [CW-1:0] in_row;          // next row to write (H when the image is in)
    reg        [CW-1:0] in_col;
    reg        [CW-1:0] in_slot;         // in_row mod NR
    wire in_done = (in_row == H);
    // output side
    reg        [CW-1:0] oy, ox, ky, kx;
    reg signed [CW-1:0] row_lo, col_lo;  // top-left input coordinate of the current window
    reg        [AW-1:0] base_addr;     // (row_lo mod NR) * W: the window's first row in the RAM
    reg        [CW-1:0] base_slot;     // row_lo mod NR (PAR = K: the bank of lane 0)
    reg        [AW-1:0] ky_off;        // ky * W
    reg        [AW-1:0] in_base;       // in_slot * W
    reg               out_done;        // all windows of this image issued

    assign s_ready = !in_done && (out_done || (in_row - row_lo < NR));
    wire push = s_valid && s_ready;

    wire signed [CW-1:0] r_end  = row_lo + K - 1;
    wire signed [CW-1:0] c_end  = col_lo + K - 1;
    wire signed [CW-1:0] r_need = (r_end > H - 1) ? H - 1 : r_end;
    wire signed [CW-1:0] c_need = (c_end > W - 1) ? W - 1 : c_end;
    wire avail = in_done || (in_row > r_need) || (in_row == r_need && $signed(in_col) > c_need);
    wire free  = !m_valid || m_ready;
    wire issue = !out_done && avail && free;

    wire signed [CW-1:0] c = col_lo + $signed(kx);
    wire col_pad = (c < 0) || (c >= W);
    wire [AW:0]   base_next = base_addr + S * W;
    wire [CW:0]   slot_next = base_slot + S;
    wire k_end   = (kx == K - 1) && (ky == KY - 1);
    wire row_end = k_end && (ox == OW - 1);
    wire img_end = row_end && (oy == OH - 1);
    localparam [AW-1:0] BASE0 = ((NR - (PT % NR)) % NR) * W;
    localparam [CW-1:0] SLOT0 = (NR - (PT % NR)) % NR;

    genvar b;
    generate
        if (PAR == 1) begin : g_pos
            wire signed [CW-1:0] r = row_lo + $signed(ky);
            wire pad = (r < 0) || (r >= H) || col_pad;
            // Addresses kept incrementally (no multiplier: synthesis would spend DSP48s on
            // slot * W).
            reg [CB-1:0] mem [0:NR*W-1];
            wire [AW:0]   row_raw  = base_addr + ky_off;
            wire [AW-1:0] row_addr = (row_raw >= NR * W) ? row_raw - NR * W : row_raw;
            wire [AW-1:0] raddr = pad ? {AW{1'b0}} : row_addr + c[AW-1:0];
            wire [AW-1:0] waddr = in_base + in_col[AW-1:0];
            reg [CB-1:0] rdata;
            always @(posedge clk) begin
                if (push) mem[waddr] <= s_data;
                if (issue) rdata <= mem[raddr];
            end
            assign m_data = (ZERO_PAD != 0 && m_pad[0]) ? {CB{1'b0}} : rdata;
            always @(posedge clk or negedge rst_n)
                if (!rst_n) m_pad <= 1'b0;
                else if (issue) m_pad <= pad;
        end else if (PAR == K) begin : g_col
            localparam BW = (W > 1) ? $clog2(W) : 1;
            localparam SW = $clog2(NR);      // NR >= 2 here (K >= 2; K = 1 is PAR = 1)
            wire [BW-1:0] col_addr = col_pad ? {BW{1'b0}} : c[BW-1:0];
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
                    lane_pad[i] = col_pad || (row_lo + i < 0) || (row_lo + i >= H);
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
                end else if (issue) begin
                    sel <= lane_bank; m_pad <= lane_pad;
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
    endgenerate

    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            in_row <= 0; in_col <= 0; in_slot <= 0; in_base <= 0;
            oy <= 0; ox <= 0; ky <= 0; kx <= 0; ky_off <= 0;
            row_lo <= -PT; col_lo <= -PL; base_addr <= BASE0; base_slot <= SLOT0;
            out_done <= 1'b0; m_valid <= 1'b0; m_last <= 1'b0;
        end else begin
            if (in_done && out_done) begin          // both sides finished: next image
                in_row <= 0; in_col <= 0; in_slot <= 0; in_base <= 0; out_done <= 1'b0;
            end else if (push) begin
                if (in_col == W - 1) begin
                    in_col <= 0;
                    in_row <= in_row + 1;
                    in_slot <= (in_slot == NR - 1) ? 0 : in_slot + 1;
                    in_base <= (in_slot == NR - 1) ? 0 : in_base + W;
                end else begin
                    in_col <= in_col + 1;
                end
            end
            if (free) m_valid <= issue;
            if (issue) begin
                m_last <= img_end;
                if (kx != K - 1) begin
                    kx <= kx + 1;
                end else begin
                    kx <= 0;
                    if (ky != KY - 1) begin
                        ky <= ky + 1; ky_off <= ky_off + W;
                    end else begin
                        ky <= 0; ky_off <= 0;
                        if (ox != OW - 1) begin
                            ox <= ox + 1; col_lo <= col_lo + S;
                        end else begin
                            ox <= 0; col_lo <= -PL;
                            if (oy != OH - 1) begin
                                oy <= oy + 1; row_lo <= row_lo + S;
                                base_addr <= (base_next >= NR * W) ? base_next - NR * W
                                                                   : base_next;
                                base_slot <= (slot_next >= NR) ? slot_next - NR : slot_next;
                            end else begin
                                oy <= 0; row_lo <= -PT; base_addr <= BASE0; base_slot <= SLOT0;
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
